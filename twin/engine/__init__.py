"""The Pulumi engine on the twin: the stand-ins the real CLI runs with (docs/twin.md)."""
