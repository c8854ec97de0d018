"""Renamed before this run: its identity (checkpoint, role, event logs) is its first name."""

from spark_streams.model import Stream

stream = Stream(
    name="audit-archive",
    renamed_from=("audit-archiver",),
    owner="payments",
    sink="s3://{lake}/audit/{stream}/",
)
