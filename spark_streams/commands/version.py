"""``spark-streams --version``: this tool, the Pulumi SDK, and the chart each stack pins."""

from __future__ import annotations

from importlib.metadata import version

from spark_streams import stackfile
from spark_streams.commands import UsageError, project_dir
from spark_streams.problems import InvalidInputError
from spark_streams.stackfile import known_stacks


def run() -> str:
    return (
        f"spark-streams {version('spark-streams')}, pulumi SDK {version('pulumi')}, "
        f"spark-operator chart {_chart_versions()}"
    )


def _chart_versions() -> str:
    """The operator chart each stack pins, read from the stack files here (if any)."""
    try:
        project = project_dir()
    except UsageError:
        return "unknown (no Pulumi.yaml here)"
    pinned: dict[str, list[str]] = {}
    for stack in known_stacks(project):
        try:
            operator = stackfile.read(project, stack).values.get("operator")
        except InvalidInputError:
            continue
        if isinstance(operator, dict):
            pinned.setdefault(str(operator.get("chartVersion")), []).append(stack)
    return "; ".join(f"{v} ({', '.join(s)})" for v, s in sorted(pinned.items())) or "unknown"
