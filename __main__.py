"""spark-streams: the Pulumi program. Wiring only: read the inputs, register everything."""

from pathlib import Path

import pulumi

from spark_streams import inputs, program

program.register(
    inputs.for_engine(Path(__file__).parent),
    pulumi.Config().get_secret_object("secrets"),
)
