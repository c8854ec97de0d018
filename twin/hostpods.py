"""The kubelet and the pod network of the twin for the pods it runs as host processes: the
spark-operator's controller and webhook, from whatever Deployment the program's Helm release
installed.

usage: python -m twin.hostpods CONFIG_JSON     (started by twin/up.sh, stopped by twin/down.sh)

Every half second it lists the pods labelled ``app.kubernetes.io/name=spark-operator`` (kwok
leaves exactly these alone, twin/stages/pod.yaml) and, per component (controller, webhook):

- runs the component's container as a host process with the pod's own args and literal env,
  authenticated with a token of the pod's service account (so the chart's RBAC is what it has),
  adapted only where a host process must differ (CONFIG's ``flags``: ports, certificate
  directory; ``env``: SPARK_HOME and the API server for spark-submit). A pod with another
  template (a release upgrade's new ReplicaSet) restarts the process with the new args; no pod
  left stops it; a process that exits is restarted with a back-off, as a kubelet does;
- reports the pods' status as a kubelet would: Running, and Ready only while the process
  answers its readiness probe; so the release's `helm --wait` ends only once the operator
  runs, and the SparkApplications the program creates next meet a webhook that answers.

It is also the twin's pod network for the API server (its egress for cluster traffic,
``--egress-selector-config-file``): an HTTP CONNECT proxy on a Unix socket that sends a
Service's cluster IP and port to the host port of the process behind it, so the chart's webhook
configurations work as installed (``service:`` references, untouched) and nothing the release
installed is edited. Other destinations are dialled as asked.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.processes import stop_group

Obj = dict[str, Any]
SELECTOR = "app.kubernetes.io/name=spark-operator"
COMPONENT = "app.kubernetes.io/component"
TEMPLATE = "pod-template-hash"
TOKEN_SECONDS = 24 * 3600


def log(message: str) -> None:
    print(f"[hostpods {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Kube:
    """The API server, with the twin's admin certificate."""

    def __init__(self, config: Obj) -> None:
        self.server = config["server"]
        self.context = ssl.create_default_context(cafile=config["ca"])
        self.context.load_cert_chain(config["cert"], config["key"])

    def request(self, method: str, path: str, body: Obj | None = None) -> Obj:
        data = json.dumps(body).encode() if body is not None else None
        content = "application/merge-patch+json" if method == "PATCH" else "application/json"
        request = urllib.request.Request(
            self.server + path, data=data, method=method, headers={"Content-Type": content}
        )
        with urllib.request.urlopen(request, context=self.context, timeout=10) as response:
            result: Obj = json.loads(response.read())
            return result

    def items(self, path: str) -> list[Obj]:
        found: list[Obj] = self.request("GET", path)["items"]
        return found


@dataclass
class Process:
    """A component's host process and the pod template it runs."""

    template: str
    command: list[str]
    env: dict[str, str]
    log_file: Path
    popen: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restarts: int = 0
    ready_since: str | None = None

    def start(self) -> None:
        with self.log_file.open("ab") as out:
            # Its own process group in the twin's session: stopped with its children
            # (spark-submit's JVMs), and twin/down.sh still finds the session.
            self.popen = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                process_group=0,
            )
        self.started = time.monotonic()
        self.ready_since = None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self) -> None:
        if self.popen is not None:
            stop_group(self.popen, 10)


def flag_value(args: list[str], flag: str) -> str | None:
    """The value of ``--flag=value`` or ``--flag value`` in a container's args."""
    for index, arg in enumerate(args):
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
        if arg == flag and index + 1 < len(args):
            return args[index + 1]
    return None


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class HostPods:
    config: Obj
    kube: Kube
    processes: dict[str, Process] = field(default_factory=dict)
    routes: dict[str, str] = field(default_factory=dict)
    reported: dict[str, str] = field(default_factory=dict)  # pod uid -> status last sent

    def component(self, name: str) -> Obj:
        settings: Obj = self.config["processes"][name]
        return settings

    def sync(self) -> None:
        pods = [
            p
            for p in self.kube.items(f"/api/v1/pods?labelSelector={SELECTOR}")
            if "deletionTimestamp" not in p["metadata"] and p["spec"].get("nodeName")
        ]
        by_component: dict[str, list[Obj]] = {}
        for pod in pods:
            name = pod["metadata"]["labels"].get(COMPONENT, "")
            if name in self.config["processes"]:
                by_component.setdefault(name, []).append(pod)
        for name in set(self.processes) - set(by_component):
            log(f"{name}: no pod left, stopping its process")
            self.processes.pop(name).stop()
        for name, component_pods in by_component.items():
            self.run(name, component_pods)
        self.routes = self.service_routes(by_component)

    def run(self, name: str, pods: list[Obj]) -> None:
        newest = max(pods, key=lambda p: p["metadata"]["creationTimestamp"])
        template = newest["metadata"]["labels"].get(TEMPLATE, newest["metadata"]["uid"])
        process = self.processes.get(name)
        if process is None or process.template != template:
            if process is not None:
                log(f"{name}: pod template {template} replaces {process.template}: restarting")
                process.stop()
            process = self.processes[name] = self.process(name, newest, template)
            log(f"{name}: starting {' '.join(process.command)}")
            process.start()
        elif not process.alive():
            backoff = min(30.0, 2.0**process.restarts)
            if time.monotonic() - process.started >= backoff:
                process.restarts += 1
                log(
                    f"{name}: process exited ({process.popen and process.popen.returncode}); "
                    f"restart {process.restarts}"
                )
                process.start()
        if process.alive() and process.ready_since is None and ready(self.component(name)["ready"]):
            process.ready_since = now()
            log(f"{name}: ready")
        elif not process.alive():
            process.ready_since = None
        for pod in pods:
            running = pod["metadata"]["labels"].get(TEMPLATE, pod["metadata"]["uid"]) == template
            self.report(pod, process if running else None)

    def process(self, name: str, pod: Obj, template: str) -> Process:
        settings = self.component(name)
        spec = pod["spec"]
        (container,) = [c for c in spec["containers"] if c["name"].endswith(name)]
        account = spec.get("serviceAccountName", "default")
        namespace = pod["metadata"]["namespace"]
        token = self.kube.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": TOKEN_SECONDS},
            },
        )["status"]["token"]
        kubeconfig = Path(self.config["state"]) / "hostpods" / f"{name}.kubeconfig"
        kubeconfig.parent.mkdir(exist_ok=True)
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "twin",
                            "cluster": {
                                "server": self.config["server"],
                                "certificate-authority": self.config["ca"],
                            },
                        }
                    ],
                    "users": [{"name": account, "user": {"token": token}}],
                    "contexts": [{"name": "twin", "context": {"cluster": "twin", "user": account}}],
                    "current-context": "twin",
                }
            )
        )
        kubeconfig.chmod(0o600)
        literal = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
        env = {
            "PATH": os.environ["PATH"],
            **literal,
            **settings.get("env", {}),
            "KUBECONFIG": str(kubeconfig),
        }
        command = [self.config["binary"], *container.get("args", []), *settings["flags"]]
        return Process(template, command, env, Path(self.config["state"]) / "logs" / f"{name}.log")

    def report(self, pod: Obj, process: Process | None) -> None:
        """The pod's status as its kubelet would write it."""
        is_ready = process is not None and process.alive() and process.ready_since is not None
        started = process is not None and process.alive()
        since = (process.ready_since if process else None) or now()
        key = f"{started}/{is_ready}/{process.restarts if process else 0}"
        uid = pod["metadata"]["uid"]
        if self.reported.get(uid) == key:
            return
        conditions = [
            {"type": t, "status": "True" if ok else "False", "lastTransitionTime": since}
            for t, ok in (
                ("PodScheduled", True),
                ("Initialized", True),
                ("ContainersReady", is_ready),
                ("Ready", is_ready),
            )
        ]
        containers = [
            {
                "name": c["name"],
                "image": c["image"],
                "ready": is_ready,
                "started": started,
                "restartCount": process.restarts if process else 0,
                "state": {"running": {"startedAt": since}}
                if started
                else {"waiting": {"reason": "ContainerCreating"}},
            }
            for c in pod["spec"]["containers"]
        ]
        status = {
            "phase": "Running" if started else "Pending",
            "startTime": since,
            "conditions": conditions,
            "containerStatuses": containers,
        }
        meta = pod["metadata"]
        try:
            self.kube.request(
                "PATCH",
                f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
                {"status": status},
            )
            self.reported[uid] = key
        except urllib.error.HTTPError as error:
            log(f"status of pod {meta['name']}: {error}")

    def service_routes(self, by_component: dict[str, list[Obj]]) -> dict[str, str]:
        """cluster IP:port of each Service selecting a component's pods -> the host port its
        process serves that port on. CONFIG's ``ports`` names, per flag, the host port the
        process is told to listen on: the container port is what the pod's own args give it."""
        routes: dict[str, str] = {}
        for name, pods in by_component.items():
            pod = pods[0]
            (container,) = [c for c in pod["spec"]["containers"] if c["name"].endswith(name)]
            host_ports = {
                port: host
                for flag, host in self.component(name).get("ports", {}).items()
                if (port := flag_value(container.get("args", []), flag)) is not None
            }
            named = {p.get("name"): str(p["containerPort"]) for p in container.get("ports", [])}
            labels = pod["metadata"]["labels"]
            namespace = pod["metadata"]["namespace"]
            for service in self.kube.items(f"/api/v1/namespaces/{namespace}/services"):
                spec = service["spec"]
                selector = spec.get("selector") or {}
                if not selector or any(labels.get(k) != v for k, v in selector.items()):
                    continue
                for port in spec.get("ports", []):
                    target = port.get("targetPort", port["port"])
                    host = host_ports.get(named.get(target, str(target)))
                    if host and spec.get("clusterIP") not in (None, "None"):
                        routes[f"{spec['clusterIP']}:{port['port']}"] = f"127.0.0.1:{host}"
        return routes

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def egress_proxy(socket_path: str, routes: HostPods) -> None:
    """The API server's egress for cluster traffic: HTTP CONNECT over a Unix socket."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        method, target, *_ = head.decode(errors="replace").split()
        destination = routes.routes.get(target, target)
        host, _, port = destination.rpartition(":")
        try:
            if method != "CONNECT":
                raise OSError(f"{method} is not CONNECT")
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(host, int(port)), timeout=5
            )
        except (OSError, ValueError, TimeoutError) as error:
            writer.write(f"HTTP/1.1 502 Bad Gateway\r\n\r\n{error}".encode())
            await writer.drain()
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def main() -> None:
        Path(socket_path).unlink(missing_ok=True)
        server = await asyncio.start_unix_server(handle, path=socket_path)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def main(argv: list[str]) -> None:
    (config_file,) = argv
    config: Obj = json.loads(Path(config_file).read_text())
    pods = HostPods(config, Kube(config))
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=egress_proxy, args=(config["socket"], pods), daemon=True).start()
    log(f"watching pods {SELECTOR}; egress proxy on {config['socket']}")
    while not stopping.is_set():
        try:
            pods.sync()
        except (urllib.error.URLError, OSError, KeyError, ValueError) as error:
            log(f"sync failed, retrying: {error!r}")
        stopping.wait(0.5)
    log("stopping the host processes")
    pods.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
