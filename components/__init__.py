"""Pulumi components, one per file. Each is a ComponentResource with a typed ``*Args``."""

PACKAGE = "spark-streams"
