"""The stream's own Spark, run in local mode with what the stack renders for the stream.

Changed, and only that: where S3 and STS are (the local MinIO, over TLS with its own
certificate), where the Spark distribution is (the cache instead of the image's /opt/spark), and
whose token the web identity provider reads (one the local issuer signed for the stream). The
credentials provider is the rendered one: the AWS SDK v1's reads the STS endpoint from its region
metadata, which a system property points at a file naming MinIO; the SDK v2's from
``AWS_ENDPOINT_URL_STS``, which it reads from 2.28.1 on. Before that (Hadoop 3.4.1's 2.24.6)
nothing points it at a local STS: there the run swaps the credentials only, for the session
credentials MinIO's STS gives the stream's own token (the same identity and policy), and
:func:`provider_loads` shows that the rendered provider class loads on that line's classpath.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e_data.plan import HistoryServerPlan, StreamPlan
from tests.e2e_data.servers import HOST, TRUSTSTORE_PASSWORD, Credentials, Minio, ServerError
from twin.processes import poll, stop_group

PROJECT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "spark-streams-twin"
IMAGE_SPARK_HOME = "/opt/spark"
JOB_SOURCE = PROJECT / "examples" / "stream-job" / "src"
JOB_CLASS = "example.streams.StreamJob"
ACCOUNT = "123456789012"  # the role ARN's account; MinIO's claim-based STS does not read it
# Every JVM of the run lives for seconds on two shared cores: the C1 compiler alone, as the JIT
# of C2 was 45% of a job run's CPU (3 micro-batches: 19.8 s of CPU, 10.4 s with C1 only). It
# changes how fast the code runs, not what it does.
JVM_FLAGS = ["-XX:TieredStopAtLevel=1"]


@dataclass(frozen=True)
class SparkLine:
    """pyspark from PyPI at one version, with the S3A jars its Hadoop needs."""

    version: str
    root: Path

    @property
    def home(self) -> Path:
        return self.root / "site" / "pyspark"

    @property
    def hadoop(self) -> str:
        (jar,) = self.home.glob("jars/hadoop-client-api-*.jar")
        return jar.name.removeprefix("hadoop-client-api-").removesuffix(".jar")

    @property
    def hadoop_cloud(self) -> Path | None:
        found = sorted((self.root / "hadoop-cloud").glob("*.jar"))
        return found[0] if found else None

    @property
    def sdk(self) -> str:
        return "v1" if self._sdk_jar.name.startswith("aws-java-sdk-") else "v2"

    @property
    def sdk_version(self) -> str:
        return self._sdk_jar.stem.rsplit("-", 1)[1]

    @property
    def reaches_local_sts(self) -> bool:
        """Whether the rendered web identity provider can be pointed at MinIO's STS: the SDK
        v1 by its region metadata, the SDK v2 by ``AWS_ENDPOINT_URL_STS`` (from 2.28.1)."""
        version = tuple(int(part) for part in self.sdk_version.split("."))
        return self.sdk == "v1" or version >= (2, 28, 1)

    @property
    def _sdk_jar(self) -> Path:
        # v1: aws-java-sdk-bundle-1.x; v2: its core module (aws-core-2.x) or its bundle-2.x
        (jar,) = [
            *self.home.glob("jars/aws-java-sdk-bundle-*.jar"),
            *self.home.glob("jars/aws-core-*.jar"),
            *self.home.glob("jars/bundle-*.jar"),
        ]
        return jar


def lines() -> dict[str, SparkLine]:
    """Every Spark line in the cache (built by twin/build-data.sh from twin/spark/*)."""
    found = {}
    for pom in sorted((PROJECT / "twin" / "spark").glob("*/pom.xml")):
        version = pom.parent.name
        root = CACHE / f"spark-{version}"
        if not (root / ".complete").exists():
            raise ServerError(f"{root} is not built: run `make e2e-data` (twin/build-data.sh)")
        found[version] = SparkLine(version, root)
    return found


def build_job(line: SparkLine, out: Path) -> Path:
    """The example job, compiled here against this line's jars."""
    classes = out / f"classes-{line.version}"
    jar = out / f"stream-job-{line.version}.jar"
    sources = sorted(str(p) for p in JOB_SOURCE.rglob("*.java"))
    subprocess.run(
        [
            "javac",
            "--release",
            "17",
            "-nowarn",
            "-Xlint:-path",
            "-cp",
            f"{line.home}/jars/*",
            "-d",
            str(classes),
            *sources,
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(["jar", "--create", "--file", str(jar), "-C", str(classes), "."], check=True)
    return jar


@dataclass(frozen=True)
class Identity:
    """What EKS puts in a pod of the stream's service account, pointed at the local servers."""

    role: str
    token_file: Path
    region: str
    # Where the line's SDK cannot reach the local STS: the session credentials of this token.
    session: Credentials | None = None

    def s3a_conf(self) -> dict[str, str]:
        """What replaces the rendered credentials provider (nothing where it reaches STS)."""
        if self.session is None:
            return {}
        return {
            "fs.s3a.aws.credentials.provider": (
                "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
            ),
            "fs.s3a.access.key": self.session.access_key,
            "fs.s3a.secret.key": self.session.secret_key,
            "fs.s3a.session.token": self.session.session_token or "",
        }

    def env(self, minio: Minio, regions_file: Path) -> dict[str, str]:
        return {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/{self.role}",
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(self.token_file),
            "AWS_STS_REGIONAL_ENDPOINTS": "regional",
            # SDK v2: where STS is
            "AWS_ENDPOINT_URL_STS": minio.endpoint,
            "JAVA_TOOL_OPTIONS": " ".join(
                [
                    *JVM_FLAGS,
                    f"-Djavax.net.ssl.trustStore={minio.tls.truststore}",
                    f"-Djavax.net.ssl.trustStorePassword={TRUSTSTORE_PASSWORD}",
                    # SDK v1: where STS is, by its region metadata
                    f"-Dcom.amazonaws.regions.RegionUtils.fileOverride={regions_file}",
                ]
            ),
        }


def regions_file(minio: Minio, directory: Path) -> Path:
    """The AWS SDK v1's region metadata, naming MinIO as STS (and S3) of the stack's region."""
    endpoints = "".join(
        f"<Endpoint><ServiceName>{service}</ServiceName><Http>false</Http><Https>true</Https>"
        f"<Hostname>{HOST}:{minio.port}</Hostname></Endpoint>"
        for service in ("sts", "s3")
    )
    path = directory / "aws-regions.xml"
    path.write_text(
        "<XmlRegionMetadata><Regions><Region>"
        f"<Name>{minio.region}</Name><Domain>amazonaws.com</Domain>{endpoints}"
        "</Region></Regions></XmlRegionMetadata>\n"
    )
    return path


def endpoint_conf(minio: Minio) -> dict[str, str]:
    return {
        "fs.s3a.endpoint": minio.endpoint,
        "fs.s3a.endpoint.region": minio.region,
        "fs.s3a.path.style.access": "true",
    }


def local_conf() -> dict[str, str]:
    """Local mode on the loopback only; no UI (it would listen on every interface)."""
    return {
        "spark.master": "local[2]",
        "spark.driver.host": HOST,
        "spark.driver.bindAddress": HOST,
        "spark.ui.enabled": "false",
    }


def _in_cache(arg: str, line: SparkLine) -> str:
    return arg.replace(f"{IMAGE_SPARK_HOME}/", f"{line.home}/")


def init_container(
    stream: StreamPlan, line: SparkLine, identity: Identity, minio: Minio, regions: Path
) -> subprocess.CompletedProcess[str]:
    """The driver's init container, exactly as rendered (Spark's path and endpoints aside)."""
    command = [_in_cache(a, line) for a in stream.init.command]
    endpoint = [f"-D{k}={v}" for k, v in endpoint_conf(minio).items()]
    swapped = [f"-D{k}={v}" for k, v in identity.s3a_conf().items()]
    # Hadoop's generic options come first; the render's FsShell arguments start at "-D...",
    # and of two settings of one key the later wins.
    at = next(i for i, a in enumerate(command) if a.startswith("-Dfs.s3a."))
    end = max(i for i, a in enumerate(command) if a.startswith("-D")) + 1
    command = [*command[:at], *endpoint, *command[at:end], *swapped, *command[end:]]
    # The rendered env (region, token file, session name) with the local token and role.
    env = {**os.environ, **stream.init.env, **identity.env(minio, regions)}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)


COMMITTED = re.compile(r"^stream-job: committed batch=(\d+) rows=(\d+)$")


@dataclass
class JobRun:
    """One spark-submit of the example job; its stdout lines are watched as they come."""

    process: subprocess.Popen[str]
    log: Path
    committed: list[tuple[int, int]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None
    started_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.log.open("a") as log:
            for line in self.process.stdout:
                log.write(line)
                if line.startswith("stream-job: "):
                    self.lines.append(line.rstrip())
                    match = COMMITTED.match(line.rstrip())
                    if match:
                        self.committed.append((int(match[1]), int(match[2])))

    def wait_committed(self, count: int, timeout: float) -> None:
        def enough() -> bool:
            if self.process.poll() is not None and len(self.committed) < count:
                raise ServerError(f"the job exited ({self.process.returncode}): {self.tail()}")
            return len(self.committed) >= count

        poll(f"{count} committed micro-batches", timeout, enough, every=0.2)

    def kill(self) -> None:
        """SIGKILL of the JVM (and the launcher around it), as a node loss or OOM kill does."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.finish(30)

    def terminate(self) -> None:
        """SIGTERM, as a resubmission or a drain sends it; the job stops its query first."""
        os.killpg(self.process.pid, signal.SIGTERM)
        self.finish(60)

    def finish(self, timeout: float) -> int:
        code = self.process.wait(timeout)
        if self._reader is not None:
            self._reader.join(10)
        return code

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text() if self.log.exists() else ""
        errors = [
            line
            for line in text.splitlines()
            if "Exception" in line or "ERROR" in line or line.startswith("stream-job:")
        ]
        return "\n".join(errors[-lines:])

    @property
    def seconds(self) -> float:
        return round(time.monotonic() - self.started_at, 1)


def submit(
    stream: StreamPlan,
    line: SparkLine,
    jar: Path,
    identity: Identity,
    minio: Minio,
    regions: Path,
    log: Path,
    args: Sequence[str] = (),
    extra_conf: dict[str, str] | None = None,
    jars: Sequence[Path] = (),
) -> JobRun:
    """spark-submit as the operator would run the stream, in local mode."""
    conf = {
        **stream.spark_conf,
        **{f"spark.hadoop.{k}": v for k, v in stream.hadoop_conf.items()},
        **{f"spark.hadoop.{k}": v for k, v in endpoint_conf(minio).items()},
        **{f"spark.hadoop.{k}": v for k, v in identity.s3a_conf().items()},
        **local_conf(),
        **(extra_conf or {}),
    }
    command = [str(line.home / "bin" / "spark-submit"), "--class", JOB_CLASS]
    for key, value in sorted(conf.items()):
        command += ["--conf", f"{key}={value}"]
    if jars:
        command += ["--jars", ",".join(str(j) for j in jars)]
    command += [str(jar), *args]
    log.write_text(f"$ {shlex.join(command)}\n")
    env = {**os.environ, "SPARK_HOME": str(line.home), **identity.env(minio, regions)}
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return JobRun(process, log)


def provider_loads(line: SparkLine, provider: str) -> str:
    """The jar the rendered credentials provider class loads from on the line's classpath
    (Hadoop's own FindClass), or why it does not."""
    find_class = ["org.apache.hadoop.util.FindClass", "load", provider]
    result = subprocess.run(
        ["java", *JVM_FLAGS, "-cp", f"{line.home}/jars/*", *find_class],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = [ln for ln in result.stdout.splitlines() if ln.startswith(f"{provider}: ")]
    if result.returncode != 0 or not found:
        raise ServerError(f"{provider} does not load on Spark {line.version}: {result.stdout}")
    return found[0].removeprefix(f"{provider}: ")


READBACK = PROJECT / "tests" / "e2e_data" / "readback.py"


def read_back(
    line: SparkLine, minio: Minio, regions: Path, sinks: Sequence[str], log: Path
) -> dict[str, list[tuple[str, int]]]:
    """Every sink's rows (checkpoint that wrote it, value), read with Spark: the file sink's
    log decides what is in it."""
    conf = {
        **{f"spark.hadoop.{k}": v for k, v in endpoint_conf(minio).items()},
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        ),
        "spark.hadoop.fs.s3a.access.key": minio.root.access_key,
        "spark.hadoop.fs.s3a.secret.key": minio.root.secret_key,
        **local_conf(),
    }
    command = [str(line.home / "bin" / "spark-submit")]
    for key, value in sorted(conf.items()):
        command += ["--conf", f"{key}={value}"]
    command += [str(READBACK), *sinks]
    env = {
        **os.environ,
        "SPARK_HOME": str(line.home),
        "PYTHONPATH": str(line.home.parent),
        "PYSPARK_PYTHON": "python3.11",
        "JAVA_TOOL_OPTIONS": Identity("", Path(), minio.region).env(minio, regions)[
            "JAVA_TOOL_OPTIONS"
        ],
    }
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    log.write_text(f"{result.stdout}\n{result.stderr}")
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if "Error" in line or "rror:" in line]
        raise ServerError(f"read-back exited {result.returncode}: {errors[-5:]} (log: {log})")
    (payload,) = [ln for ln in result.stdout.splitlines() if ln.startswith("{")]
    found: dict[str, list[list[object]]] = json.loads(payload)
    return {sink: [(str(c), int(str(v))) for c, v in rows] for sink, rows in found.items()}


@dataclass
class HistoryServer:
    process: subprocess.Popen[bytes]
    port: int

    def applications(self) -> list[dict[str, object]]:
        import urllib.request

        with urllib.request.urlopen(f"http://{HOST}:{self.port}/api/v1/applications") as r:
            apps: list[dict[str, object]] = json.loads(r.read())
        return apps

    def stop(self) -> None:
        stop_group(self.process, 20)


def history_server(
    plan: HistoryServerPlan,
    line: SparkLine,
    identity: Identity,
    minio: Minio,
    regions: Path,
    port: int,
    log: Path,
    store: Path,
) -> HistoryServer:
    """The rendered History Server (its SPARK_HISTORY_OPTS), on a port of the run's own."""
    options = {
        **plan.options,
        **{f"spark.hadoop.{k}": v for k, v in endpoint_conf(minio).items()},
        **{f"spark.hadoop.{k}": v for k, v in identity.s3a_conf().items()},
        "spark.history.ui.port": str(port),
        # A host process: only the loopback (the pod listens on its own address).
        "spark.driver.bindAddress": HOST,
        "spark.history.store.path": str(store),
    }
    env = {
        **os.environ,
        "SPARK_HOME": str(line.home),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_HISTORY_OPTS": " ".join(f"-D{k}={v}" for k, v in options.items()),
        **identity.env(minio, regions),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(line.home / "bin" / "spark-class"),
                "org.apache.spark.deploy.history.HistoryServer",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return HistoryServer(process, port)
