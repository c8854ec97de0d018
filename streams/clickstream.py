"""Web and app click events from Kafka into the lake, with the product catalogue as a lookup."""

from spark_streams.model import Driver, Executor, Stream

stream = Stream(
    name="clickstream-ingest",
    owner="web-analytics",
    main_class="com.acme.streams.clickstream.Main",
    arguments=(
        "--source",
        "kafka",
        "--topic",
        "clickstream.events",
        "--format",
        "parquet",
        "--watermark",
        "10 minutes",
    ),
    sink="s3://{lake}/raw/{stream}/",
    reads=("s3://{lake}/reference/products/",),
    secrets={"KAFKA_SASL_PASSWORD": "kafka-sasl-password"},
    driver=Driver(memory="2g"),
    executor=Executor(instances=8, cores=2),
)
