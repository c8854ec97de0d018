"""The local twin of the cluster (docs/twin.md)."""
