"""Payment events for the audit trail; tried in dev first, not in prod yet."""

from spark_streams.model import StackOverride, Stream

stream = Stream(
    name="payments-audit",
    owner="payments",
    type="Python",
    application_file="local:///opt/spark/work-dir/payments_audit.py",
    arguments=("--topic", "payments.v2"),
    sink="s3://{lake}/audit/{stream}/",
    secrets={"KAFKA_SASL_PASSWORD": "kafka-sasl-password"},
    stacks={"prod": StackOverride(enabled=False)},
)
