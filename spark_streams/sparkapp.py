"""The SparkApplication of one stream, built with Kubeflow's own models of the v1beta2 CRD.

Everything here but the stream role's ARN is known before deploy, so ``spark-streams render``
shows what the cluster receives.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kubeflow_spark_api import models as crd

from spark_streams import program_conf
from spark_streams.config import MonitoringConfig
from spark_streams.metadata import DO_NOT_DISRUPT, SPEC_HASH_LABEL, labels
from spark_streams.resolve import EffectiveStream
from spark_streams.settings import Affinity, Deps, Executor, NodeSelectorTerm, PodSettings

API_VERSION = "sparkoperator.k8s.io/v1beta2"
KIND = "SparkApplication"
SECRET_NAME = "stream-secrets"
JMX_PORT_NAME = "jmx-exporter"  # what the PodMonitor scrapes
SPARK_UID = 185  # the user of the Apache Spark images; the pods run as it, never as root

# S3A reads the IRSA web identity token with a provider that depends on the AWS SDK in Hadoop:
# v1 up to Hadoop 3.3, v2 from 3.4 (both held by make e2e-data against a local STS).
_SDK_V2_WEB_IDENTITY = (
    "software.amazon.awssdk.auth.credentials.WebIdentityTokenFileCredentialsProvider"
)
_S3A_CREDENTIALS = {
    "3.3": "com.amazonaws.auth.WebIdentityTokenCredentialsProvider",
    "3.4": _SDK_V2_WEB_IDENTITY,
    "3.5": _SDK_V2_WEB_IDENTITY,
}


def s3a_credentials_provider(hadoop_version: str) -> str:
    return _S3A_CREDENTIALS[hadoop_version]


# spark-hadoop-cloud's: writes each checkpoint file in place and aborts it on failure, where
# Spark's default writes a temporary file and renames it (on S3, a copy and a delete).
ABORTABLE_CHECKPOINTS = (
    "org.apache.spark.internal.io.cloud.AbortableStreamBasedCheckpointFileManager"
)


def spark_conf(stream: EffectiveStream) -> dict[str, str]:
    """The stream's Spark conf: the program's defaults under it, what the program owns over it
    (:mod:`spark_streams.program_conf`; a stream's ``spark_conf`` never holds an owned key)."""
    image = (
        {"spark.sql.streaming.checkpointFileManagerClass": ABORTABLE_CHECKPOINTS}
        if stream.hadoop_cloud
        else {}
    )
    return {
        **stream.spark_conf,
        # Where the job keeps state; the job reads it (or names its query) to resume.
        "spark.sql.streaming.checkpointLocation": stream.checkpoint.uri,
        "spark.streams.checkpointLocation": stream.checkpoint.uri,
        "spark.streams.sink": stream.sink.uri,
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": stream.event_log.uri,
        **program_conf.spark_defaults_for(stream.spark_conf, image),
        # Driver and executors prove to each other that they hold the application's secret,
        # which Spark on Kubernetes generates per application (SPARK-26194), and encrypt
        # their RPC with it: a pod of another stream can neither run code in this one's
        # driver nor read its traffic.
        "spark.authenticate": "true",
        "spark.network.crypto.enabled": "true",
    }


def hadoop_conf(stream: EffectiveStream) -> dict[str, str]:
    return {
        "fs.s3a.aws.credentials.provider": s3a_credentials_provider(stream.hadoop_version),
        "fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        # Hadoop 3.3 deletes every parent directory marker after each file it writes: on the
        # versioned buckets each delete leaves a delete marker behind, and the parents above
        # the stream's prefix are refused (make e2e-data saw it on every checkpoint write).
        # Keeping markers is the only behaviour from Hadoop 3.4 on.
        "fs.s3a.directory.marker.retention": "keep",
        **program_conf.hadoop_defaults_for(stream.spark_conf),
    }


def _security_context() -> crd.IoK8sApiCoreV1SecurityContext:
    return crd.IoK8sApiCoreV1SecurityContext(
        allow_privilege_escalation=False,
        capabilities=crd.IoK8sApiCoreV1Capabilities(drop=["ALL"]),
        run_as_non_root=True,
        run_as_user=SPARK_UID,
        seccomp_profile=crd.IoK8sApiCoreV1SeccompProfile(type="RuntimeDefault"),
    )


def _pod_security_context() -> crd.IoK8sApiCoreV1PodSecurityContext:
    return crd.IoK8sApiCoreV1PodSecurityContext(
        run_as_non_root=True,
        run_as_user=SPARK_UID,
        fs_group=SPARK_UID,
        seccomp_profile=crd.IoK8sApiCoreV1SeccompProfile(type="RuntimeDefault"),
    )


def _env(stream: EffectiveStream) -> list[crd.IoK8sApiCoreV1EnvVar] | None:
    env = [
        crd.IoK8sApiCoreV1EnvVar(name=name, value=value)
        for name, value in sorted(stream.env.items())
    ]
    env += [
        crd.IoK8sApiCoreV1EnvVar(
            name=variable,
            value_from=crd.IoK8sApiCoreV1EnvVarSource(
                secret_key_ref=crd.IoK8sApiCoreV1SecretKeySelector(name=SECRET_NAME, key=key)
            ),
        )
        for variable, key in sorted(stream.secrets.items())
    ]
    return env or None


def _per_role(stream: EffectiveStream) -> bool:
    return bool(stream.driver.node_selector or stream.executor.node_selector)


def _spec_node_selector(stream: EffectiveStream) -> dict[str, str] | None:
    return None if _per_role(stream) else stream.node_selector or None


def _role_node_selector(stream: EffectiveStream, pod: PodSettings) -> dict[str, str] | None:
    return {**stream.node_selector, **pod.node_selector} if _per_role(stream) else None


def _pod_fields(
    stream: EffectiveStream, pod: PodSettings, service_account: str, annotations: dict[str, str]
) -> dict[str, Any]:
    """Fields the driver and executor specs share; placement is each role's own.

    The operator's validating webhook (2.5) refuses a node selector at both the spec and a
    role's level: when a role has its own, each role carries the shared one laid under its own
    (:func:`_spec_node_selector`). The webhook appends the role's tolerations, affinity and
    priority class.
    """
    tolerations = [
        *stream.tolerations,
        *(t for t in pod.tolerations if t not in stream.tolerations),
    ]
    return {
        "cores": pod.cores,
        "core_request": pod.core_request,
        "core_limit": pod.core_limit,
        "memory": pod.memory,
        "memory_overhead": pod.memory_overhead,
        "service_account": service_account,
        "labels": labels(stream),
        "annotations": annotations or None,
        # The same env on both roles, which the webhook needs too: in 2.5 it adds an
        # executor's env only when the driver has some (addEnvVars, sparkpod_defaulter.go).
        "env": _env(stream),
        "security_context": _security_context(),
        "pod_security_context": _pod_security_context(),
        "termination_grace_period_seconds": stream.termination_grace_period_seconds,
        "node_selector": _role_node_selector(stream, pod),
        "tolerations": [
            crd.IoK8sApiCoreV1Toleration(**t.model_dump(exclude_none=True)) for t in tolerations
        ]
        or None,
        "affinity": _affinity(pod.affinity) if pod.affinity else None,
        "priority_class_name": pod.priority_class_name,
    }


def _node_selector_term(term: NodeSelectorTerm) -> crd.IoK8sApiCoreV1NodeSelectorTerm:
    return crd.IoK8sApiCoreV1NodeSelectorTerm(
        match_expressions=[
            crd.IoK8sApiCoreV1NodeSelectorRequirement(
                key=r.key, operator=r.operator, values=list(r.values) or None
            )
            for r in term.match_expressions
        ]
    )


def _affinity(affinity: Affinity) -> crd.IoK8sApiCoreV1Affinity:
    required = (
        crd.IoK8sApiCoreV1NodeSelector(
            node_selector_terms=[_node_selector_term(t) for t in affinity.required]
        )
        if affinity.required
        else None
    )
    preferred = [
        crd.IoK8sApiCoreV1PreferredSchedulingTerm(
            weight=t.weight, preference=_node_selector_term(t.preference)
        )
        for t in affinity.preferred
    ]
    return crd.IoK8sApiCoreV1Affinity(
        node_affinity=crd.IoK8sApiCoreV1NodeAffinity(
            required_during_scheduling_ignored_during_execution=required,
            preferred_during_scheduling_ignored_during_execution=preferred or None,
        )
    )


def _deps(deps: Deps) -> crd.SparkV1beta2Dependencies | None:
    fields = {name: list(getattr(deps, name)) for name in Deps.model_fields}
    if not any(fields.values()):
        return None
    return crd.SparkV1beta2Dependencies(**{k: v for k, v in fields.items() if v})


def _quantity(value: str) -> crd.IoK8sApimachineryPkgApiResourceQuantity:
    return crd.IoK8sApimachineryPkgApiResourceQuantity(value)


# The init container's own web identity token. EKS injects its token into the containers a pod
# has when the pod is created; the operator's webhook may add the init container after that.
TOKEN_VOLUME = "stream-aws-token"
TOKEN_DIR = "/var/run/secrets/spark-streams/aws"


def _token_volume() -> crd.IoK8sApiCoreV1Volume:
    token = crd.IoK8sApiCoreV1ServiceAccountTokenProjection(
        audience="sts.amazonaws.com", expiration_seconds=3600, path="token"
    )
    return crd.IoK8sApiCoreV1Volume(
        name=TOKEN_VOLUME,
        projected=crd.IoK8sApiCoreV1ProjectedVolumeSource(
            sources=[crd.IoK8sApiCoreV1VolumeProjection(service_account_token=token)]
        ),
    )


def _token_mount() -> crd.IoK8sApiCoreV1VolumeMount:
    return crd.IoK8sApiCoreV1VolumeMount(name=TOKEN_VOLUME, mount_path=TOKEN_DIR, read_only=True)


# Hadoop's FsShell refuses to start without a core-site.xml on its classpath (its main turns
# Configuration's quiet mode off), and Spark's images ship none: the command runs with an empty
# one (spark-class puts HADOOP_CONF_DIR on the classpath). Found by make e2e-data.
_WITH_HADOOP_CONF = (
    'conf=$(mktemp -d) && echo "<configuration/>" > "$conf/core-site.xml" && '
    'HADOOP_CONF_DIR="$conf" exec "$@"'
)


def _event_log_directory(stream: EffectiveStream) -> crd.IoK8sApiCoreV1Container:
    """Creates the stream's event-log "directory" before the driver starts.

    Spark refuses to start when ``spark.eventLog.dir`` does not exist, and on S3 a prefix exists
    only once something is in it. Hadoop's shell in the stream's own image writes the marker
    with the stream's own role (``mkdir -p`` is a no-op when it is already there), through its
    own token; the role's ARN is laid in by :func:`spec`.
    """
    provider = s3a_credentials_provider(stream.hadoop_version)
    return crd.IoK8sApiCoreV1Container(
        name="event-log-directory",
        image=stream.image,
        image_pull_policy=stream.image_pull_policy,
        command=[
            "/bin/sh",
            "-c",
            _WITH_HADOOP_CONF,
            "event-log-directory",
            "/opt/spark/bin/spark-class",
            "org.apache.hadoop.fs.FsShell",
            f"-Dfs.s3a.aws.credentials.provider={provider}",
            "-mkdir",
            "-p",
            stream.event_log.uri,
        ],
        env=[
            # spark-class gives any class a 1g heap unless told; the limit below is 512Mi.
            crd.IoK8sApiCoreV1EnvVar(name="SPARK_DRIVER_MEMORY", value="256m"),
            crd.IoK8sApiCoreV1EnvVar(name="AWS_REGION", value=stream.aws_region),
            crd.IoK8sApiCoreV1EnvVar(
                name="AWS_WEB_IDENTITY_TOKEN_FILE", value=f"{TOKEN_DIR}/token"
            ),
            # STS wants 2-64 characters; a stream name may be one
            crd.IoK8sApiCoreV1EnvVar(
                name="AWS_ROLE_SESSION_NAME", value=f"spark-streams-{stream.name}"
            ),
            # what EKS sets on the containers it sees: STS in the region, not the global one
            crd.IoK8sApiCoreV1EnvVar(name="AWS_STS_REGIONAL_ENDPOINTS", value="regional"),
        ],
        volume_mounts=[_token_mount()],
        resources=crd.IoK8sApiCoreV1ResourceRequirements(
            requests={"cpu": _quantity("100m"), "memory": _quantity("384Mi")},
            limits={"memory": _quantity("512Mi")},
        ),
        security_context=_security_context(),
    )


def _executor(stream: EffectiveStream, executor: Executor) -> crd.SparkV1beta2ExecutorSpec:
    # No do-not-disrupt here: executors on spot are meant to go, and decommissioning (see
    # spark_conf) moves their blocks when they do.
    return crd.SparkV1beta2ExecutorSpec(
        instances=executor.instances,
        **_pod_fields(stream, executor, stream.executor_service_account, dict(stream.annotations)),
    )


def _driver_annotations(stream: EffectiveStream) -> dict[str, str]:
    # Karpenter leaves a node with such a pod alone when consolidating or replacing drifted
    # nodes: a driver that goes takes the whole stream with it.
    disrupt = {DO_NOT_DISRUPT: "true"} if stream.driver.do_not_disrupt else {}
    return {**stream.annotations, **disrupt}


def spec(stream: EffectiveStream, monitoring: MonitoringConfig, role_arn: Any) -> dict[str, Any]:
    """The SparkApplication spec; ``role_arn`` (the stream role's, a Pulumi output) is the one
    value in it that only AWS knows."""
    restart = stream.restart_policy
    application = crd.SparkV1beta2SparkApplicationSpec(
        type=stream.type,
        mode="cluster",
        spark_version=stream.spark_version,
        image=stream.image,
        image_pull_policy=stream.image_pull_policy,
        main_class=stream.main_class,
        main_application_file=stream.application_file,
        arguments=list(stream.arguments) or None,
        spark_conf=spark_conf(stream),
        hadoop_conf=hadoop_conf(stream),
        node_selector=_spec_node_selector(stream),
        deps=_deps(stream.deps),
        suspend=stream.suspend,
        restart_policy=crd.SparkV1beta2RestartPolicy(
            type=restart.type,
            on_failure_retries=restart.on_failure_retries,
            on_failure_retry_interval=restart.on_failure_retry_interval,
            on_submission_failure_retries=restart.on_submission_failure_retries,
            on_submission_failure_retry_interval=restart.on_submission_failure_retry_interval,
        ),
        driver=crd.SparkV1beta2DriverSpec(
            init_containers=[_event_log_directory(stream)],
            # Mounted in the driver too: the webhook adds only volumes the driver mounts.
            volume_mounts=[_token_mount()],
            **_pod_fields(
                stream, stream.driver, stream.service_account, _driver_annotations(stream)
            ),
        ),
        volumes=[_token_volume()],
        executor=_executor(stream, stream.executor),
        monitoring=crd.SparkV1beta2MonitoringSpec(
            expose_driver_metrics=True,
            expose_executor_metrics=True,
            prometheus=crd.SparkV1beta2PrometheusSpec(
                jmx_exporter_jar=monitoring.jmx_exporter_jar,
                port=monitoring.metrics_port,
                port_name=JMX_PORT_NAME,
            ),
        ),
    )
    result: dict[str, Any] = application.to_dict()
    digest = _spec_digest(result, stream.role_name)
    for role in ("driver", "executor"):
        result[role]["labels"][SPEC_HASH_LABEL] = digest
    # The models take strings only: the output goes in after them.
    (init,) = result["driver"]["initContainers"]
    init["env"].append({"name": "AWS_ROLE_ARN", "value": role_arn})
    return result


def _spec_digest(spec: dict[str, Any], role_name: str) -> str:
    """What the operator restarts a stream for, hashed: the spec but ``suspend`` (which the
    operator applies without a new run, v2.5 event_filter.go) and the role's ARN, known only
    after deploy (its name stands for it)."""
    content = {**{k: v for k, v in spec.items() if k != "suspend"}, "roleName": role_name}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def spec_hash(spec: dict[str, Any]) -> str:
    """The hash :func:`spec` labels the stream's pods with."""
    digest: str = spec["driver"]["labels"][SPEC_HASH_LABEL]
    return digest
