"""A stream's wait: ``pulumi up`` succeeds for a stream only once it runs what was deployed.

A Python dynamic resource (its provider: :class:`spark_streams.readiness.ReadinessProvider`)
that depends on the stream's SparkApplication. Its create, and its update when the spec hash,
the expected state or the stack's readiness settings change, wait until the operator runs the
new spec (or has suspended it) for the stability window; any other change of the application
(its labels, say) starts no new run and no wait. A stream that does not get there fails this
resource only, in one line naming the stream, its state, the operator's reason and what its
driver pod says: with ``--continue-on-error`` every other stream's change still goes through.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi.dynamic

from components import READY_MODULE, READY_NAME
from spark_streams.config import ReadinessConfig
from spark_streams.readiness import RUNNING, SUSPENDED, ReadinessProvider


@dataclass(frozen=True)
class StreamReadyArgs:
    stream: str
    namespace: str
    name: str  # the SparkApplication's
    spec_hash: str
    suspended: bool
    readiness: ReadinessConfig
    # The program's Kubernetes provider's kubeconfig: the wait reads the cluster as it does.
    kubeconfig: pulumi.Input[str]


class StreamReady(pulumi.dynamic.Resource, module=READY_MODULE, name=READY_NAME):
    def __init__(
        self, name: str, args: StreamReadyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        readiness = args.readiness
        super().__init__(
            ReadinessProvider(),
            name,
            {
                "stream": args.stream,
                "namespace": args.namespace,
                "name": args.name,
                "specHash": args.spec_hash,
                "expect": SUSPENDED if args.suspended else RUNNING,
                "minReadySeconds": readiness.min_ready_seconds,
                "timeoutSeconds": readiness.timeout_seconds,
                "secondsPerSubmission": readiness.seconds_per_submission,
                "kubeconfig": pulumi.Output.secret(args.kubeconfig),
            },
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig"])
            ),
        )
