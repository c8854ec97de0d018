"""Reads another stream's sink (orders-ingest's): it may read and list it, never write it."""

from spark_streams.model import Stream

stream = Stream(
    name="orders-enrich",
    owner="commerce-data",
    sink="s3://{lake}/curated/{stream}/",
    reads=("s3://{lake}/raw/orders-ingest/", "s3://{lake}/reference/stores/"),
)
