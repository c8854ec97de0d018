"""Orders from the `orders.v1` Kafka topic into the lake, partitioned by order date."""

from spark_streams.model import Executor, StackOverride, Stream

stream = Stream(
    name="orders-ingest",
    owner="commerce-data",
    arguments=(
        "--source",
        "kafka",
        "--topic",
        "orders.v1",
        "--format",
        "delta",
        "--partition-by",
        "order_date",
        "--trigger",
        "1 minute",
    ),
    sink="s3://{lake}/raw/{stream}/",
    secrets={"KAFKA_SASL_PASSWORD": "kafka-sasl-password"},
    executor=Executor(instances=6, memory="6g", memory_overhead="1g"),
    stacks={
        "dev": StackOverride(executor=Executor(instances=1, memory="2g", memory_overhead="512m"))
    },
)
