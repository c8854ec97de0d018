"""Spark's own setting types, per Spark minor version, and the check of a ``spark_conf`` value.

    table = load_table(stream.spark_version)      # once per plan and version; None: no table
    if table is None:
        message = no_table_message(stream.spark_version)
    else:
        message = check_setting(table, key, value)  # None: Spark accepts it (or does not know key)

The tables are made by ``make spark-settings SPARK=<version>`` (:mod:`.generate`) and committed.
"""

from spark_streams.spark_settings.check import check_setting
from spark_streams.spark_settings.table import (
    Setting,
    SettingsTable,
    Tables,
    load_table,
    minor_of,
    no_table_message,
    table_minors,
)

__all__ = [
    "Setting",
    "SettingsTable",
    "Tables",
    "check_setting",
    "load_table",
    "minor_of",
    "no_table_message",
    "table_minors",
]
