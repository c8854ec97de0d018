"""One stack's data-path run: its streams through the commits a stack lives through.

Every stream of the stack (each on a thread of its own; JVMs two at a time over the whole run,
every stack included):

A. as committed: the init container's ``mkdir``; a first run killed hard (SIGKILL) while a batch
   is half-written; a second run from the checkpoint that reads the stream's declared inputs with
   Spark, stopped with SIGTERM; then, once every stream of the stack has started, with its own
   credentials and a plain S3 client, every probe of :mod:`tests.e2e_data.probes`.

The stack's lifecycle stream (the first by identity; every stream with
``E2E_DATA_LIFECYCLE=all``) then goes on, each commit laid over its file alone:

B. a commit changes its driver's memory and its ``spark.sql.shuffle.partitions``: started again.
C. a commit renames it (``renamed_from``): started again.
D. a commit bumps its ``checkpoint_generation`` and moves its sink: started again.

E. every sink read back with Spark, and the History Server (where the stack renders one) lists
   every stream's applications.

Every phase's plan is computed before the first JVM starts (:meth:`StackRun.prepare`). What each
phase saw is kept in :class:`StackEvidence`; the tests judge it, the report prints it.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from tests.e2e_data import probes
from tests.e2e_data.plan import (
    HISTORY_SERVER,
    HistoryServerPlan,
    StackPlan,
    StreamPlan,
    load,
    minio_policy,
)
from tests.e2e_data.servers import Credentials, Minio, OidcIssuer, ServerError
from tests.e2e_data.spark import (
    Identity,
    JobRun,
    SparkLine,
    history_server,
    init_container,
    provider_loads,
    read_back,
    submit,
)
from twin.processes import WaitError, poll

ROWS_PER_BATCH = 5
SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"
ROCKSDB = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
TRIGGER_MS = 500
PARALLEL = 2  # JVMs at a time over the whole run: the machine has two cores
NAMESPACE_SUBJECT = "system:serviceaccount:{namespace}:{account}"


@dataclass
class RunEvidence:
    phase: str
    args: list[str]
    committed: list[tuple[int, int]] = field(default_factory=list)
    exit_code: int | None = None
    seconds: float = 0.0
    how_it_ended: str = ""
    lines: list[str] = field(default_factory=list)
    log: str = ""
    marker_deletes_refused: int = 0
    checkpoint_manager: str = ""


# What each checkpoint file manager logs when it writes a file.
CHECKPOINT_MANAGERS = {
    "AbortableStreamBasedCheckpointFileManager": "based on abortable stream",
    "FileContextBasedCheckpointFileManager (temp file, then rename)": "using temp file",
}


@dataclass
class StreamEvidence:
    name: str
    identity: str
    init: dict[str, Any] = field(default_factory=dict)
    runs: list[RunEvidence] = field(default_factory=list)
    killed: dict[str, Any] = field(default_factory=dict)
    checkpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    event_logs: list[str] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)
    sinks: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    completed_applications: list[str] = field(default_factory=list)
    in_progress_applications: list[str] = field(default_factory=list)
    declared_reads: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)  # what the job said it read with Spark
    lifecycle: bool = False  # went through the change, the rename and the new generation
    errors: list[str] = field(default_factory=list)

    def run(self, phase: str) -> RunEvidence | None:
        found = [r for r in self.runs if r.phase == phase]
        return found[0] if found else None


@dataclass
class StackEvidence:
    stack: str
    spark: str
    hadoop: str
    sdk: str
    credentials_provider: str
    # "rendered": the jobs ran with the rendered provider, through MinIO's STS; else what
    # replaced it, and the jar the rendered provider class loads from (spark.provider_loads)
    credentials: str = "rendered"
    provider_loads: str = ""
    plans: dict[str, StackPlan] = field(default_factory=dict)
    streams: dict[str, StreamEvidence] = field(default_factory=dict)
    history_server: dict[str, Any] = field(default_factory=dict)
    buckets: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("plans")
        return data


Edit = str  # Python laid over a stream file: the commit a phase stands for

RESOURCES = """
stream = _e2e_replace(
    stream,
    driver=(stream.driver if _set(stream.driver) else _Driver()).model_copy(
        update={"memory": "3g"}
    ),
    spark_conf={
        **(stream.spark_conf if _set(stream.spark_conf) else {}),
        "spark.sql.shuffle.partitions": "3",
    },
)
"""
# A file sink moves only with a new checkpoint: moved alone, the sink's log in the new prefix
# starts at the checkpoint's batch and Spark fails at its next compaction (docs/data-path.md).
MOVE_SINK = """
stream = _e2e_replace(stream, sink=stream.sink.rstrip("/") + "-gen1/")
"""
RENAME = """
stream = _e2e_replace(
    stream,
    name=stream.name[:32].rstrip("-") + "-renamed",
    renamed_from=(*stream.renamed_from, stream.name),
)
"""
NEW_GENERATION = """
stream = _e2e_replace(stream, checkpoint_generation=stream.checkpoint_generation + 1)
"""
# With the new generation the image gains spark-hadoop-cloud (where the line has it).
HADOOP_CLOUD = """
stream = _e2e_replace(stream, hadoop_cloud=True)
"""
EDIT_HEADER = """
# e2e-data: the commit of one phase, laid over the stream as written (its lifecycle streams only)
import dataclasses as _e2e
from spark_streams.model import Driver as _Driver
from spark_streams.settings import is_set as _set


def _e2e_replace(stream, **changes):
    # What the file wrote (a setting left out stays left out: INHERIT), with the changes.
    written = {f.name: getattr(stream, f.name) for f in _e2e.fields(stream)}
    return type(stream)(**{**{k: v for k, v in written.items() if _set(v)}, **changes})
"""
PHASES = ("changed", "renamed", "new generation")


class StackRun:
    def __init__(
        self,
        *,
        stack: str,
        project: Path,
        streams_dir: Path,
        region: str,
        namespace: str,
        line: SparkLine,
        history_line: SparkLine,
        jars: dict[str, Path],
        minio: Minio,
        issuer: OidcIssuer,
        regions: Path,
        work: Path,
        history_port: int,
        slots: threading.Semaphore,
        every_stream_lifecycle: bool,
    ) -> None:
        self.stack = stack
        self.project = project
        self.streams_dir = streams_dir
        self.region = region
        self.namespace = namespace
        self.line = line
        self.history_line = history_line
        self.jars = jars
        self.minio = minio
        self.issuer = issuer
        self.regions = regions
        self.work = work
        self.history_port = history_port
        self.slots = slots  # one per JVM that may run at a time, shared by every stack
        self.every_stream_lifecycle = every_stream_lifecycle
        self.admin = minio.s3()
        (work / "logs").mkdir(parents=True, exist_ok=True)
        (work / "tokens").mkdir(exist_ok=True)
        self.evidence = StackEvidence(stack, line.version, line.hadoop, line.sdk, "")

    # --- plans and identities --------------------------------------------------------------
    def prepare(self) -> None:
        """Every phase's plan, before any JVM starts: the program runs in this process, one
        plan at a time (Pulumi's runtime state is global)."""
        base = self.plan("as committed", [])
        edited = [s.name for s in base.streams]
        if not self.every_stream_lifecycle:
            edited = edited[:1]
        cloud = [HADOOP_CLOUD] if self.line.hadoop_cloud else []
        self.plan("changed", edited, RESOURCES)
        self.plan("renamed", edited, RESOURCES, RENAME)
        self.plan("new generation", edited, RESOURCES, RENAME, NEW_GENERATION, MOVE_SINK, *cloud)
        for stream in base.streams:
            self.evidence.streams[stream.identity] = StreamEvidence(
                stream.name,
                stream.identity,
                declared_reads=[r.uri for r in stream.reads],
                lifecycle=stream.name in edited,
            )

    def plan(self, phase: str, edited: list[str], *edits: Edit) -> StackPlan:
        directory = self.streams_dir
        if edits:
            directory = self.work / f"streams-{phase}"
            shutil.copytree(
                self.streams_dir, directory, ignore=shutil.ignore_patterns("__pycache__")
            )
            laid = f"{EDIT_HEADER}\n_e2e_edited = stream.name in {tuple(edited)!r}\n" + "".join(
                "if _e2e_edited:\n" + textwrap.indent(edit.strip("\n"), "    ") + "\n"
                for edit in edits
            )
            for path in sorted(directory.glob("*.py")):
                if not path.name.startswith("_"):
                    path.write_text(path.read_text() + laid)
        plan = load(self.project, self.stack, self.region, directory)
        self.evidence.plans[phase] = plan
        return plan

    def policy_name(self, identity: str) -> str:
        return f"{self.stack}.{identity}"

    def grant(self, identity: str, policy: dict[str, Any]) -> None:
        """What `pulumi up` does to the role's inline policy, on MinIO (see minio_policy)."""
        self.minio.admin().policy_add(self.policy_name(identity), policy=minio_policy(policy))

    def identity(
        self, account: str, identity: str, role: str, line: SparkLine | None = None
    ) -> Identity:
        """What EKS gives a pod of the service account, for a JVM of ``line`` (the stack's):
        with the token's session credentials where that line's SDK cannot reach MinIO's STS."""
        found = self._token(account, identity, role)
        if (line or self.line).reaches_local_sts:
            return found
        return replace(found, session=self._session(found))

    def credentials(self, stream: StreamPlan) -> Credentials:
        """The stream's session credentials, as its web identity provider gets them."""
        return self._session(self._token(stream.name, stream.identity, stream.role))

    def _token(self, account: str, identity: str, role: str) -> Identity:
        token = self.issuer.token(
            self.stack,
            NAMESPACE_SUBJECT.format(namespace=self.namespace, account=account),
            self.policy_name(identity),
        )
        path = self.work / "tokens" / account
        path.write_text(token)
        return Identity(role=role, token_file=path, region=self.region)

    def _session(self, identity: Identity) -> Credentials:
        return self.minio.assume_role_with_web_identity(
            identity.token_file.read_text(), identity.env(self.minio, self.regions)["AWS_ROLE_ARN"]
        )

    # --- buckets -------------------------------------------------------------------------
    def create_buckets(self, plan: StackPlan) -> None:
        for bucket in plan.buckets:
            self.evidence.buckets.append(probes.create_bucket(self.admin, bucket, self.region))

    # --- one stream's runs ------------------------------------------------------------------
    def start(
        self, stream: StreamPlan, phase: str, args: list[str], **kwargs: Any
    ) -> tuple[JobRun, RunEvidence]:
        """A job run; the caller holds a slot until it has ended."""
        evidence = self.evidence.streams[stream.identity]
        identity = self.identity(stream.name, stream.identity, stream.role)
        log = self.work / "logs" / f"{stream.identity}-{phase}.log"
        job = submit(
            stream,
            self.line,
            self.jars[self.line.version],
            identity,
            self.minio,
            self.regions,
            log,
            [
                "--rows-per-batch",
                str(ROWS_PER_BATCH),
                "--trigger-ms",
                str(TRIGGER_MS),
                *args,
            ],
            **kwargs,
        )
        run = RunEvidence(phase=phase, args=args, log=str(log))
        evidence.runs.append(run)
        return job, run

    def finish(self, job: JobRun, run: RunEvidence, how: str) -> None:
        text = Path(run.log).read_text()
        # Hadoop 3.3 deleting parent directory markers above the stream's grant.
        run.marker_deletes_refused = text.count("MultiObjectDeleteSupport: AccessDenied")
        run.checkpoint_manager = next(
            (name for name, line in CHECKPOINT_MANAGERS.items() if line in text), "unknown"
        )
        run.committed = list(job.committed)
        run.exit_code = job.process.returncode
        run.seconds = job.seconds
        run.how_it_ended = how
        run.lines = job.lines[-40:]

    def run_to_end(
        self, stream: StreamPlan, phase: str, args: list[str], jars: Sequence[Path] = ()
    ) -> RunEvidence:
        with self.slots:
            job, run = self.start(stream, phase, args, jars=jars)
            try:
                code = job.finish(240)
            except Exception:
                job.kill()
                raise
            self.finish(job, run, "stopped itself after --max-batches")
        if code != 0:
            raise ServerError(f"{phase}: the job exited {code}: {job.tail()}")
        return run

    def phase_first_start(
        self, plan: StackPlan, stream: StreamPlan, written: dict[str, threading.Event]
    ) -> None:
        evidence = self.evidence.streams[stream.identity]
        identity = self.identity(stream.name, stream.identity, stream.role)
        with self.slots:
            started = time.monotonic()
            result = init_container(stream, self.line, identity, self.minio, self.regions)
            seconds = round(time.monotonic() - started, 1)
        evidence.init = {
            "command": stream.init.command,
            "exit_code": result.returncode,
            "seconds": seconds,
            "stderr": _errors(result.stderr) if result.returncode else "",
            "marker": probes.exists(self.admin, stream.event_log.bucket, stream.event_log.prefix),
        }
        if result.returncode != 0:
            raise ServerError(f"init container failed: {_errors(result.stderr)}")

        # First run: killed hard once a batch is half-written (its first task's file is in the
        # sink, the batch is in the offset log and not yet in the commit log).
        kill_at = 3
        try:
            with self.slots:
                job, run = self.start(
                    stream,
                    "killed",
                    ["--slow-from-batch", str(kill_at), "--slow-task-ms", "15000"],
                )
                try:
                    job.wait_committed(kill_at, 240)
                    state = poll(
                        f"batch {kill_at} half-written",
                        40,
                        lambda: probes.half_written(self.admin, stream, kill_at),
                        every=0.2,
                    )
                finally:
                    job.kill()
        finally:
            written[stream.identity].set()  # its sink holds files: a reader of it may start
        self.finish(job, run, "SIGKILL of the JVM mid-batch")
        evidence.killed = {"batch": kill_at, **state}
        evidence.checkpoints["after kill"] = probes.checkpoint(self.admin, stream.checkpoint)

        # Started again with the same settings, reading its declared inputs with Spark (another
        # stream's sink once that stream has written); stopped with SIGTERM after three batches.
        for other in plan.streams:
            if other is not stream and any(probes.within(other.sink, r) for r in stream.reads):
                written[other.identity].wait(600)
        reads = [arg for r in stream.reads for arg in ("--read", r.uri)]
        with self.slots:
            job, run = self.start(stream, "restarted", reads)
            try:
                job.wait_committed(3, 240)
            finally:
                job.terminate()
            self.finish(job, run, "SIGTERM (the job stops its query)")
        evidence.reads = [line for line in run.lines if line.startswith("stream-job: read ")]
        evidence.checkpoints["after restart"] = probes.checkpoint(self.admin, stream.checkpoint)

    def phase_probes(self, plan: StackPlan, stream: StreamPlan) -> None:
        evidence = self.evidence.streams[stream.identity]
        evidence.event_logs = probes.keys(self.admin, stream.event_log)
        client = self.minio.s3(self.credentials(stream))
        evidence.probes = [asdict(p) for p in probes.probe_all(client, self.admin, plan, stream)]

    def phase_changed(self, stream: StreamPlan, before: StreamPlan) -> None:
        evidence = self.evidence.streams[stream.identity]
        self.run_to_end(stream, "changed", ["--max-batches", "2"])
        evidence.changes["changed"] = {
            "driver memory": [before.driver_memory, stream.driver_memory],
            "checkpoint": [before.checkpoint.uri, stream.checkpoint.uri],
            "shuffle partitions rendered": [
                before.spark_conf.get(SHUFFLE_PARTITIONS),
                stream.spark_conf.get(SHUFFLE_PARTITIONS),
            ],
        }
        evidence.checkpoints["after change"] = probes.checkpoint(self.admin, stream.checkpoint)

    def phase_renamed(self, stream: StreamPlan, before: StreamPlan) -> None:
        evidence = self.evidence.streams[stream.identity]
        self.run_to_end(stream, "renamed", ["--max-batches", "2"])
        evidence.changes["renamed"] = {
            "name": [before.name, stream.name],
            "checkpoint": [before.checkpoint.uri, stream.checkpoint.uri],
            "event_log": [before.event_log.uri, stream.event_log.uri],
        }
        evidence.checkpoints["after rename"] = probes.checkpoint(self.admin, stream.checkpoint)

    def phase_new_generation(self, stream: StreamPlan, before: StreamPlan) -> None:
        evidence = self.evidence.streams[stream.identity]
        old_before = probes.keys(self.admin, before.checkpoint)
        cloud = self.line.hadoop_cloud
        # A stateful query (dropDuplicates) on the new checkpoint: its state store is the
        # rendered one (RocksDB, changelog checkpointing).
        self.run_to_end(
            stream,
            "new generation",
            ["--dedupe", "--max-batches", "2"],
            jars=[cloud] if cloud else [],
        )
        evidence.changes["new generation"] = {
            "checkpoint": [before.checkpoint.uri, stream.checkpoint.uri],
            "sink": [before.sink.uri, stream.sink.uri],
            "old checkpoint objects": [
                len(old_before),
                len(probes.keys(self.admin, before.checkpoint)),
            ],
            "old checkpoint readable by the stream": probes.can_list(
                self.minio.s3(self.credentials(stream)), before.checkpoint
            ),
        }
        evidence.checkpoints["new generation"] = probes.checkpoint(self.admin, stream.checkpoint)

    # --- the whole stack -----------------------------------------------------------------
    def guarded(self, evidence: StreamEvidence, phase: str, step: Callable[[], None]) -> None:
        if evidence.errors:
            return  # an earlier phase failed for this stream: what follows would not tell
        try:
            step()
        except Exception as error:
            evidence.errors.append(f"{phase}: {error}\n{traceback.format_exc(limit=3)}")

    def live(
        self,
        base: StackPlan,
        stream: StreamPlan,
        written: dict[str, threading.Event],
        all_started: threading.Barrier,
    ) -> None:
        """One stream's phases, in order; its probes once every stream of the stack started."""
        evidence = self.evidence.streams[stream.identity]
        self.guarded(evidence, "first start", lambda: self.phase_first_start(base, stream, written))
        all_started.wait()
        self.guarded(evidence, "probes", lambda: self.phase_probes(base, stream))
        if not evidence.lifecycle:
            return
        steps = {
            "changed": self.phase_changed,
            "renamed": self.phase_renamed,
            "new generation": self.phase_new_generation,
        }
        before = stream
        for phase in PHASES:
            now = self.evidence.plans[phase].stream(stream.identity)
            self.grant(now.identity, now.policy)  # the phase's commit, deployed
            self.guarded(evidence, phase, partial(steps[phase], now, before))
            before = now

    def run(self) -> StackEvidence:
        started = time.monotonic()
        base = self.evidence.plans["as committed"]
        self.evidence.credentials_provider = ",".join(
            sorted({s.credentials_provider for s in base.streams})
        )
        if not self.line.reaches_local_sts:
            self.evidence.credentials = (
                "session credentials of the stream's own token: the AWS SDK "
                f"{self.line.sdk_version} reads no AWS_ENDPOINT_URL_STS"
            )
            with self.slots:
                self.evidence.provider_loads = ", ".join(
                    f"{provider} from {provider_loads(self.line, provider)}"
                    for provider in self.evidence.credentials_provider.split(",")
                )
        for stream in base.streams:
            self.grant(stream.identity, stream.policy)
        if base.history_server is not None:
            self.grant(HISTORY_SERVER, base.history_server.policy)
        self.create_buckets(base)
        probes.seed_inputs(self.admin, base)
        written = {s.identity: threading.Event() for s in base.streams}
        all_started = threading.Barrier(max(1, len(base.streams)))
        with ThreadPoolExecutor(max(1, len(base.streams))) as pool:
            list(pool.map(lambda s: self.live(base, s, written, all_started), base.streams))
        with ThreadPoolExecutor(2) as pool:
            ends = [
                pool.submit(self.read_back, base, self.evidence.plans["new generation"]),
                pool.submit(self.run_history_server, base),
            ]
            for end in ends:
                end.result()
        self.evidence.seconds = round(time.monotonic() - started, 1)
        return self.evidence

    def read_back(self, base: StackPlan, moved: StackPlan) -> None:
        every = {s.sink for s in base.streams} | {s.sink for s in moved.streams}
        # Only sinks a run wrote: Spark fails on a missing path, and one stream that failed
        # earlier would hide what every other stream's sink holds.
        sinks = sorted(s.uri for s in every if probes.keys(self.admin, s))
        try:
            with self.slots:
                found = read_back(
                    self.line, self.minio, self.regions, sinks, self.work / "logs" / "read-back.log"
                )
        except Exception as error:
            self.evidence.errors.append(f"read back: {error}")
            return
        for stream in base.streams:
            evidence = self.evidence.streams[stream.identity]
            evidence.completed_applications = probes.completed_applications(
                self.admin, stream.event_log
            )
            evidence.in_progress_applications = probes.completed_applications(
                self.admin, stream.event_log, in_progress=True
            )
            moved_sink = moved.stream(stream.identity).sink.uri
            evidence.sinks = {
                stream.sink.uri: found.get(stream.sink.uri, []),
                moved_sink: found.get(moved_sink, []),
            }

    def run_history_server(self, base: StackPlan) -> None:
        plan = base.history_server
        if plan is None:
            self.evidence.history_server = {"rendered": False}
            return
        with self.slots:
            self._history_server(base, plan)

    def _history_server(self, base: StackPlan, plan: HistoryServerPlan) -> None:
        identity = self.identity(HISTORY_SERVER, HISTORY_SERVER, plan.role, self.history_line)
        store = self.work / "history-store"
        server = history_server(
            plan,
            self.history_line,
            identity,
            self.minio,
            self.regions,
            self.history_port,
            self.work / "logs" / "history-server.log",
            store,
        )
        expected = {
            app
            for s in base.streams
            for app in probes.completed_applications(self.admin, s.event_log)
        }
        listed: set[str] = set()

        def all_listed() -> bool:
            if server.process.poll() is not None:
                raise ServerError("the History Server exited")
            nonlocal listed
            try:
                listed = {str(a["id"]) for a in server.applications()}
            except OSError:
                return False
            return bool(expected) and expected <= listed

        started = time.monotonic()
        try:
            poll("the History Server to list every application", 150, all_listed, 2)
        except (ServerError, WaitError) as error:
            self.evidence.errors.append(f"history server: {error}")
        finally:
            server.stop()
        self.evidence.history_server = {
            "rendered": True,
            "spark": self.history_line.version,
            "directories": [d.uri for d in plan.directories],
            "credentials_provider": plan.options.get(
                "spark.hadoop.fs.s3a.aws.credentials.provider", ""
            ),
            "completed_applications_in_event_logs": sorted(expected),
            "listed": sorted(listed),
            "seconds": round(time.monotonic() - started, 1),
            "log": str(self.work / "logs" / "history-server.log"),
        }


def dump(evidence: StackEvidence, path: Path) -> None:
    path.write_text(json.dumps(evidence.as_json(), indent=2, default=str))


def _errors(output: str) -> str:
    """The lines of a JVM's output that say what went wrong."""
    lines = [line for line in output.splitlines() if line and not line.startswith("Picked up")]
    wanted = [line for line in lines if "Exception" in line or ": " in line[:80]]
    return "\n".join((wanted or lines)[-8:])
