"""A stream setting every field of the model, rendered for dev and prod: valid against the
operator's CRD and Kubernetes' own schemas, and each field found where it lands."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from spark_streams.cli import main
from spark_streams.metadata import APPLIED
from spark_streams.model import StackOverride, Stream
from spark_streams.settings import Group
from tests.test_render import CRD, SCHEMA, undeclared
from tests.test_security import K8S_VERSION

STREAMS = Path(__file__).parent / "fixtures" / "every_field"
NAME = "every-field-v2"


def loaded() -> Stream:
    namespace: dict[str, Any] = {}
    exec((STREAMS / "every_field.py").read_text(), namespace)
    stream: Stream = namespace["stream"]
    return stream


def unset(value: Any, path: str = "") -> list[str]:
    """Fields of ``value`` left at their default: a settings group knows which were written,
    a stream (a dataclass) is compared with its defaults. Kubernetes' own shapes (a toleration,
    a node selector term) are whole values, not groups of settings."""
    if isinstance(value, Group):
        missing = [
            f"{path}{k}" for k in type(value).model_fields if k not in value.model_fields_set
        ]
        return missing + [
            m for k in value.model_fields_set for m in unset(getattr(value, k), f"{path}{k}.")
        ]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        found: list[str] = []
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            default = f.default_factory() if callable(f.default_factory) else f.default
            # `enabled=True` is the default and the only value that keeps the stream in dev
            override = isinstance(value, StackOverride)
            if item == default and not (override and f.name == "enabled"):
                found.append(f"{path}{f.name}")
            if not override:  # an override's groups are partial by design
                found += unset(item, f"{path}{f.name}.")
        return found
    if isinstance(value, dict):
        return [m for k, v in value.items() if isinstance(k, str) for m in unset(v, f"{path}{k}.")]
    if isinstance(value, tuple):
        return [m for i, v in enumerate(value) for m in unset(v, f"{path}{i}.")]
    return []


def test_the_stream_sets_every_field_of_the_model() -> None:
    assert unset(loaded()) == []


def documents(stack: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main(["render", "--stack", stack, "--streams-dir", str(STREAMS)]) == 0
    return [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]


def application(stack: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    (app,) = [d for d in documents(stack, capsys) if d["kind"] == "SparkApplication"]
    return app


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_render_is_valid_against_the_crd_and_kubernetes(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for document in documents(stack, capsys):
        if document["kind"] == "SparkApplication":
            CRD.validate(document)
            assert undeclared(document, SCHEMA) == []
            # the pod fields the webhook applies are Kubernetes types: validate them as a pod
            for role in ("driver", "executor"):
                spec = document["spec"][role]
                pod = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "p", "labels": spec["labels"]},
                    "spec": {
                        "containers": [{"name": "spark", "image": "x", "env": spec["env"]}],
                        "affinity": spec["affinity"],
                        "tolerations": spec["tolerations"],
                        "nodeSelector": spec["nodeSelector"],
                        "priorityClassName": spec.get("priorityClassName", ""),
                    },
                }
                kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
        elif document["kind"] in {
            "Namespace",
            "ServiceAccount",
            "Secret",
            "Role",
            "RoleBinding",
            "NetworkPolicy",
        }:
            kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_every_field_lands_where_it_should_in_prod(capsys: pytest.CaptureFixture[str]) -> None:
    model = loaded()
    app = application("prod", capsys)
    meta, spec = app["metadata"], app["spec"]
    driver, executor = spec["driver"], spec["executor"]
    conf = spec["sparkConf"]
    # identity, ownership
    assert meta["name"] == NAME
    for labels in (meta["labels"], driver["labels"], executor["labels"]):
        assert labels["spark-streams/identity"] == "every-field"  # renamed_from
        assert labels["spark-streams/owner"] == "platform-qa"
        assert labels["example.com/cost-center"] == "cc-7"
    runbook = {"example.com/runbook": "https://runbooks.example.com/every-field"}
    assert meta["annotations"] == {**runbook, **APPLIED}
    assert executor["annotations"] == runbook
    assert driver["annotations"] == {**runbook, "karpenter.sh/do-not-disrupt": "true"}
    # the job
    assert (spec["type"], spec["sparkVersion"], spec["mainClass"]) == (
        "Scala",
        "3.5.5",
        "com.acme.Every",
    )
    assert spec["image"] == model.image
    assert spec["mainApplicationFile"] == model.application_file
    assert spec["arguments"] == list(model.arguments)
    assert spec["hadoopConf"]["fs.s3a.aws.credentials.provider"].startswith("software.amazon")
    assert conf["spark.streams.sink"] == "s3a://acme-data-prod-lake/raw/every-field/"
    assert conf["spark.sql.streaming.checkpointLocation"].endswith("/every-field/gen-2/")
    assert conf["spark.sql.shuffle.partitions"] == "48"
    # hadoop_cloud: the image has spark-hadoop-cloud
    assert conf["spark.sql.streaming.checkpointFileManagerClass"].endswith(
        ".AbortableStreamBasedCheckpointFileManager"
    )
    assert spec["suspend"] is False
    assert spec["deps"] == {
        "jars": ["local:///opt/spark/extra/every-udfs.jar"],
        "files": ["s3a://acme-data-prod-lake/reference/every/lookup.csv"],
        "pyFiles": ["https://repo.example.com/every/helpers.zip"],
        "packages": ["org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.5"],
        "repositories": ["https://repo1.maven.org/maven2"],
        "excludePackages": ["org.slf4j:slf4j-api"],
    }
    assert spec["restartPolicy"] == {
        "type": "OnFailure",
        "onFailureRetries": 10,
        "onFailureRetryInterval": 30,
        "onSubmissionFailureRetries": 4,
        "onSubmissionFailureRetryInterval": 60,
    }
    # placement: shared on the spec, each role's own on its pod
    # roles with selectors of their own carry the shared one too: the operator's webhook
    # refuses a selector at both levels
    assert "nodeSelector" not in spec
    assert driver["nodeSelector"] == {
        "workload": "spark",
        "karpenter.sh/capacity-type": "on-demand",
    }
    assert executor["nodeSelector"] == {"workload": "spark", "karpenter.sh/capacity-type": "spot"}
    shared = {"key": "dedicated", "operator": "Equal", "value": "spark", "effect": "NoSchedule"}
    assert driver["tolerations"] == [
        shared,
        {"key": "critical", "operator": "Exists", "effect": "NoExecute"},
    ]
    assert executor["tolerations"] == [
        shared,
        {"key": "spot", "operator": "Exists", "effect": "NoSchedule"},
    ]
    node = driver["affinity"]["nodeAffinity"]
    assert node["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {
            "matchExpressions": [
                {
                    "key": "topology.kubernetes.io/zone",
                    "operator": "In",
                    "values": ["eu-west-1a", "eu-west-1b"],
                }
            ]
        }
    ]
    assert node["preferredDuringSchedulingIgnoredDuringExecution"] == [
        {
            "weight": 50,
            "preference": {
                "matchExpressions": [{"key": "node.example.com/ssd", "operator": "Exists"}]
            },
        }
    ]
    executor_terms = executor["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert executor_terms[0]["matchExpressions"][0]["values"] == ["3"]
    assert driver["priorityClassName"] == "spark-driver-high"
    assert executor["priorityClassName"] == "spark-executor"
    # resources
    assert (driver["cores"], driver["coreRequest"], driver["coreLimit"]) == (1, "500m", "1")
    assert (driver["memory"], driver["memoryOverhead"]) == ("2g", "512m")
    assert (executor["cores"], executor["coreRequest"], executor["coreLimit"]) == (2, "1500m", "2")
    assert (executor["memory"], executor["memoryOverhead"], executor["instances"]) == (
        "4g",
        "1g",
        3,
    )
    # env: plain and from the secret, on both roles
    for pod in (driver, executor):
        env = {e["name"]: e for e in pod["env"]}
        assert env["TOPIC"] == {"name": "TOPIC", "value": "every.v1"}
        assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == (
            "kafka-sasl-password"
        )
    # accounts: the driver's is bound to the driver Role, the executors' has no token
    assert driver["serviceAccount"] == NAME
    assert executor["serviceAccount"] == f"{NAME}.executor"


def test_reads_land_in_the_roles_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--json", "--stack", "prod", "--streams-dir", str(STREAMS)]) == 0
    resources = json.loads(capsys.readouterr().out)["resources"]
    (policy,) = [
        r for r in resources if r["type"] == "aws:iam/rolePolicy:RolePolicy" and r["stream"]
    ]
    document = json.loads(policy["inputs"]["policy"])
    readable = {
        arn
        for s in document["Statement"]
        if s["Action"] == ["s3:GetObject"]
        for arn in s["Resource"]
    }
    assert "arn:aws:s3:::acme-data-prod-lake/reference/every/*" in readable
    (role,) = [r for r in resources if r["type"] == "aws:iam/role:Role" and r["stream"]]
    assert role["inputs"]["tags"]["spark-streams/owner"] == "platform-qa"
    assert role["inputs"]["tags"]["example.com/cost-center"] == "cc-7"


def test_the_dev_override_of_every_field_applies_in_dev_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = application("dev", capsys)
    spec = app["spec"]
    assert (spec["sparkVersion"], spec["mainClass"], spec["suspend"]) == (
        "3.5.4",
        "com.acme.EveryDev",
        True,
    )
    assert spec["image"].endswith("/every:dev")
    assert spec["mainApplicationFile"] == "local:///opt/spark/jars/every-dev.jar"
    assert spec["hadoopConf"]["fs.s3a.aws.credentials.provider"].startswith("com.amazonaws")
    assert "nodeSelector" not in spec
    assert spec["driver"]["nodeSelector"]["workload"] == "spark-dev"
    assert spec["executor"]["nodeSelector"]["workload"] == "spark-dev"
    assert spec["restartPolicy"]["type"] == "Always"
    assert spec["sparkConf"]["spark.sql.shuffle.partitions"] == "4"
    driver, executor = spec["driver"], spec["executor"]
    # the override replaced the shared tolerations with none; each role keeps its own
    assert driver["tolerations"] == [
        {"key": "critical", "operator": "Exists", "effect": "NoExecute"}
    ]
    # only the fields the override writes change: the rest of the driver is the stream's
    assert (driver["memory"], driver["memoryOverhead"], driver["cores"]) == ("1g", "256m", 1)
    assert "karpenter.sh/do-not-disrupt" not in driver["annotations"]
    assert executor["instances"] == 1 and executor["memory"] == "4g"
    assert spec["deps"]["files"] == ["s3a://acme-data-dev-lake/reference/every/lookup.csv"]
    assert spec["deps"]["jars"] == ["local:///opt/spark/extra/every-udfs.jar"]
    assert {e["name"]: e.get("value") for e in driver["env"]}["TOPIC"] == "every.dev"
