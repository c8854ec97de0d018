"""``spark-streams new``: a stream file to start from, valid as written.

The file is data a reviewer reads as settings: the name, where it writes (its own prefix, by
identity, so a copy of the file never shares another stream's data) and commented lines for
what streams usually set next.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spark_streams.settings import AppType


@dataclass(frozen=True)
class NewStream:
    name: str
    type: AppType | None = None
    main_class: str | None = None
    application_file: str | None = None
    topic: str | None = None
    owner: str | None = None


def file_name(name: str) -> str:
    """``orders-eu`` -> ``orders_eu.py``: an importable module name, never a helper's ``_``."""
    return f"{name.replace('-', '_')}.py"


def source(new: NewStream) -> str:
    """The stream file's text."""
    settings = [f'    name="{new.name}",']
    if new.owner:
        settings.append(f'    owner="{new.owner}",  # the team: labels, cost and alert routing')
    if new.type:
        settings.append(f'    type="{new.type}",')
    if new.main_class:
        settings.append(f'    main_class="{new.main_class}",  # the class the job starts with')
    if new.application_file:
        settings.append(
            f'    application_file="{new.application_file}",  # local:// (in the image), s3a://'
        )
    if new.topic:
        settings.append(f'    arguments=("--topic", "{new.topic}"),  # passed to the job')
    else:
        settings.append('    # arguments=("--topic", "<topic>"),  # passed to the job')
    settings += [
        "    # Its own prefix in the stack's data lake; {stream} is its identity (its first name).",
        '    sink="s3://{lake}/raw/{stream}/",',
        "    # S3 prefixes it reads, if any (Kafka and other sources need none):",
        '    # reads=("s3://{lake}/reference/<dataset>/",),',
        "    # Environment variable -> key of the stack's `secrets` config:",
        '    # secrets={"KAFKA_SASL_PASSWORD": "kafka-sasl-password"},',
        "    # Only what differs from the stack's `spark:` defaults, e.g.:",
        '    # executor=Executor(instances=4, memory="4g"),',
        '    # stacks={"dev": StackOverride(executor=Executor(instances=1))},',
    ]
    return "\n".join(
        [
            f'"""{new.name}: what it reads and where it writes (say it here, in one line)."""',
            "",
            "from spark_streams.model import Executor, StackOverride, Stream  # noqa: F401",
            "",
            "stream = Stream(",
            *settings,
            ")",
            "",
        ]
    )


def write(directory: Path, new: NewStream) -> Path:
    """Write the file; :class:`FileExistsError` if one of that name is there."""
    path = directory / file_name(new.name)
    with path.open("x") as handle:
        handle.write(source(new))
    return path
