"""spark-streams: the model, config loading, offline planner and CLI behind the Pulumi program."""
