"""Run by spark-submit (tests/e2e_data/spark.py): each sink's `value`s, read with Spark.

A parquet sink written by a streaming query has its own log (`_spark_metadata/`); Spark reads
only the files that log commits, so a file a killed batch left behind is not read. Prints one
JSON line: {sink: [[checkpoint, value], ...]}, the checkpoint being the one that wrote the row.
"""

import json
import sys

from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("e2e-data-read-back").getOrCreate()
found = {}
for sink in sys.argv[1:]:
    rows = spark.read.parquet(sink).select("checkpoint", "value").collect()
    found[sink] = sorted([row.checkpoint, row.value] for row in rows)
print(json.dumps(found))
spark.stop()
