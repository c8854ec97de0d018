"""``spark-streams new``: a stream file to start from, in the streams directory the stacks name,
planned in each of those stacks before it is left there.

The file is data a reviewer reads as settings: the name, where it writes (its own prefix, by
identity, so a copy of the file never shares another stream's data) and commented lines for
what streams usually set next. It passes ``plan`` exactly when ``new`` says so: the stacks'
streams are judged before it is written (a broken stack gets no new file) and again with it
(a file that does not plan is taken back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from spark_streams import discovery, inputs, stackfile
from spark_streams.commands import UsageError
from spark_streams.config import StackConfig, parse_stack_config
from spark_streams.discovery import StreamFile
from spark_streams.problems import InvalidInputError, Problem, display_path
from spark_streams.settings import AppType
from spark_streams.stackfile import known_stacks
from spark_streams.types import StreamName, TeamName


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


def run(project: Path, *, stack: str | None, streams_dir: Path | None, new: NewStream) -> str:
    _check_flags(new)
    sources = {s: stackfile.read(project, s) for s in known_stacks(project)}
    configs = {s: parse_stack_config(src.values, file=src.file) for s, src in sources.items()}
    directory, stacks = _directory(project, stack, streams_dir, configs)
    judged = {s: (sources[s].file, configs[s]) for s in stacks}
    if discovery.stream_paths(directory):
        files, found = discovery.load_streams(directory)
        _judge(files, found, judged, known_stacks(project))
    else:
        # The first stream of a new directory: nothing there to judge yet.
        directory.mkdir(parents=True, exist_ok=True)
        files = []
    taken = {name: f.label for f in files for name in (f.stream.name, *f.stream.renamed_from)}
    if new.name in taken:
        raise UsageError(f"stream '{new.name}' exists already, in {taken[new.name]}")
    requiring = [s for s in stacks if configs[s].require_owner]
    if requiring and not new.owner:
        raise UsageError(
            f"stack {', '.join(requiring)} requires every stream to name its owner: pass "
            "--owner <team>"
        )
    path = directory / file_name(new.name)
    try:
        with path.open("x") as handle:
            handle.write(source(new))
    except FileExistsError:
        raise UsageError(f"{display_path(path)} exists already; pick another name") from None
    # Judged again with the new file, as `plan` will judge it (the others are as loaded).
    added, found = discovery.load_streams(directory, only=[path])
    try:
        _judge([*files, *added], found, judged, known_stacks(project))
    except InvalidInputError:
        path.unlink()
        raise
    first = stacks[0]
    return (
        f"wrote {display_path(path)}: it plans in {', '.join(stacks)}\n"
        "next:\n"
        "  1. say what it does in its first line, and set what differs from the stack\n"
        f"  2. spark-streams list --stack {first}    its effective settings\n"
        f"  3. spark-streams plan --stack {first}    every resource it adds\n"
        "  4. commit it on a branch: the merge request shows each stack's preview\n"
    )


def _check_flags(new: NewStream) -> None:
    try:
        TypeAdapter(StreamName).validate_python(new.name)
        if new.owner is not None:
            TypeAdapter(TeamName).validate_python(new.owner)
    except ValidationError as error:
        raise UsageError(error.errors()[0]["msg"].removeprefix("Value error, ")) from None
    if new.type in ("Python", "R") and not new.application_file:
        raise UsageError(f"a {new.type} stream needs --file local:///path/in/the/image.py")


def _directory(
    project: Path, stack: str | None, streams_dir: Path | None, configs: Mapping[str, StackConfig]
) -> tuple[Path, list[str]]:
    """Where the file goes, and the stacks whose streams it becomes: ``--streams-dir`` (for
    every stack, as ``plan --streams-dir`` reads it), else the directory the stacks name
    (``--stack`` picks one when they name different ones)."""
    if streams_dir is not None:
        return streams_dir, list(configs)
    named = {s: inputs.streams_directory(project, c) for s, c in configs.items()}
    if stack is not None:
        return named[stack], [s for s, d in named.items() if d == named[stack]]
    if len(set(named.values())) > 1:
        where = ", ".join(f"{s}: {display_path(d)}" for s, d in named.items())
        raise UsageError(f"the stacks name different streams directories ({where}): pass --stack")
    return next(iter(named.values())), list(named)


def _judge(
    files: Sequence[StreamFile],
    found: Sequence[Problem],
    stacks: Mapping[str, tuple[str, StackConfig]],
    known: Sequence[str],
) -> None:
    """Every stack's verdict on the files (as :func:`spark_streams.inputs.load` gives it):
    all problems, or nothing."""
    problems = list(found)
    for stack, (file, config) in stacks.items():
        try:
            inputs.resolve_checked(files, config, stack, known, file)
        except InvalidInputError as error:
            problems.extend(p for p in error.problems if p not in problems)
    if problems:
        raise InvalidInputError(problems)
