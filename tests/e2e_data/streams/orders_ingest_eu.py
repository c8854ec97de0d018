"""A neighbour whose name starts with another's (orders-ingest): neither may see the other's keys."""

from spark_streams.model import Stream

stream = Stream(
    name="orders-ingest-eu",
    owner="commerce-data",
    sink="s3://{lake}/raw/{stream}/",
)
