"""The SparkApplication of one stream, built with Kubeflow's own models of the v1beta2 CRD.

Everything here but the stream role's ARN is known before deploy, so ``spark-streams render``
shows what the cluster receives.
"""

from __future__ import annotations

from typing import Any

from kubeflow_spark_api import models as crd

from spark_streams.config import MonitoringConfig
from spark_streams.model import Driver, Executor
from spark_streams.resolve import EffectiveStream

API_VERSION = "sparkoperator.k8s.io/v1beta2"
KIND = "SparkApplication"
SECRET_NAME = "stream-secrets"
JMX_PORT_NAME = "jmx-exporter"  # what the PodMonitor scrapes
SPARK_UID = 185  # the user of the Apache Spark images; the pods run as it, never as root

# S3A reads the IRSA web identity token with a provider that depends on the AWS SDK in Hadoop.
_S3A_CREDENTIALS = {
    "3.3": "com.amazonaws.auth.WebIdentityTokenCredentialsProvider",
    "3.4": "software.amazon.awssdk.auth.credentials.WebIdentityTokenFileCredentialsProvider",
}


def s3a_credentials_provider(hadoop_version: str) -> str:
    return _S3A_CREDENTIALS[hadoop_version]


def labels(stream: EffectiveStream) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": stream.name,
        "app.kubernetes.io/part-of": "spark-streams",
        "app.kubernetes.io/managed-by": "pulumi",
        "spark-streams/identity": stream.identity,
    }


def spark_conf(stream: EffectiveStream) -> dict[str, str]:
    """The stream's Spark conf with what spark-streams owns laid on top."""
    return {
        **stream.spark_conf,
        # Where the job keeps state; the job reads it (or names its query) to resume.
        "spark.sql.streaming.checkpointLocation": stream.checkpoint.uri,
        "spark.streams.checkpointLocation": stream.checkpoint.uri,
        "spark.streams.sink": stream.sink.uri,
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": stream.event_log.uri,
        "spark.eventLog.rolling.enabled": "true",
        "spark.eventLog.rolling.maxFileSize": "128m",
        "spark.sql.streaming.metricsEnabled": "true",
        # A resubmission sends SIGTERM: executors hand their blocks over before they go.
        "spark.decommission.enabled": "true",
        "spark.kubernetes.executor.deleteOnTermination": "true",
    }


def hadoop_conf(stream: EffectiveStream) -> dict[str, str]:
    return {
        "fs.s3a.aws.credentials.provider": s3a_credentials_provider(stream.hadoop_version),
        "fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        # Skip probing parent "directories" the role may not read (Hadoop 3.4; ignored by 3.3).
        "fs.s3a.performance.flags": "mkdir",
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
        crd.IoK8sApiCoreV1EnvVar(
            name=variable,
            value_from=crd.IoK8sApiCoreV1EnvVarSource(
                secret_key_ref=crd.IoK8sApiCoreV1SecretKeySelector(name=SECRET_NAME, key=key)
            ),
        )
        for variable, key in sorted(stream.secrets.items())
    ]
    return env or None


def _pod_fields(stream: EffectiveStream, resources: Driver) -> dict[str, Any]:
    """Fields the driver and executor specs share."""
    return {
        "cores": resources.cores,
        "core_request": resources.core_request,
        "core_limit": resources.core_limit,
        "memory": resources.memory,
        "memory_overhead": resources.memory_overhead,
        "service_account": stream.service_account,
        "labels": labels(stream),
        "env": _env(stream),
        "security_context": _security_context(),
        "pod_security_context": _pod_security_context(),
        "termination_grace_period_seconds": stream.termination_grace_period_seconds,
        "tolerations": [
            crd.IoK8sApiCoreV1Toleration(**t.model_dump(exclude_none=True))
            for t in stream.tolerations
        ]
        or None,
    }


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
    return crd.SparkV1beta2ExecutorSpec(
        instances=executor.instances, **_pod_fields(stream, executor)
    )


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
        node_selector=stream.node_selector or None,
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
            **_pod_fields(stream, stream.driver),
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
    # The models take strings only: the output goes in after them.
    (init,) = result["driver"]["initContainers"]
    init["env"].append({"name": "AWS_ROLE_ARN", "value": role_arn})
    return result
