"""The rules of the spark-streams policy pack, as plain functions so they can be unit-tested.

Each rule takes Pulumi's validation args and a ``report`` callback, like pulumi-policy calls it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

Report = Callable[..., None]

BUCKET = "aws:s3/bucket:Bucket"
SPARK_APPLICATION = "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication"
ROLE_POLICIES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")
DEFAULT_NAMESPACES = ("spark-streams",)
# Lake and checkpoint buckets of prod stacks (named <prefix>-lake / -checkpoints, prefix *-prod).
DEFAULT_PROTECTED = r"-prod-(lake|checkpoints)$"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
# The label spark-streams puts on its workloads naming the stack they belong to.
STACK_LABEL = "spark-streams/stack"
DEFAULT_PINNED_STACKS = ("prod",)
_PINNED = re.compile(r"@sha256:[0-9a-f]{64}$")


class Options(Protocol):
    @property
    def protect(self) -> bool: ...


class Resource(Protocol):
    """What the rules read of pulumi-policy's ResourceValidationArgs / PolicyResource."""

    @property
    def resource_type(self) -> str: ...
    @property
    def props(self) -> Mapping[str, Any]: ...
    @property
    def name(self) -> str: ...
    @property
    def opts(self) -> Options: ...


def _bucket_name(props: Mapping[str, Any]) -> str:
    return str(props.get("bucket", ""))


def buckets_hardened(resources: Iterable[Resource], report: Report) -> None:
    """Every bucket is versioned, encrypted by default, fully private and owner-enforced."""
    resources = list(resources)
    companions: dict[str, dict[str, Mapping[str, Any]]] = {}
    for r in resources:
        if r.resource_type.startswith("aws:s3/") and r.resource_type != BUCKET:
            companions.setdefault(_bucket_name(r.props), {})[r.resource_type.split(":")[-1]] = (
                r.props
            )
    for bucket in (r for r in resources if r.resource_type == BUCKET):
        name = _bucket_name(bucket.props)
        found = companions.get(name, {})
        versioning = found.get("BucketVersioning", {}).get("versioningConfiguration", {})
        if versioning.get("status") != "Enabled":
            report(f"bucket {name} is not versioned (aws.s3.BucketVersioning status Enabled)")
        rules = found.get("BucketServerSideEncryptionConfiguration", {}).get("rules") or []
        algorithms = {
            rule.get("applyServerSideEncryptionByDefault", {}).get("sseAlgorithm") for rule in rules
        }
        if not algorithms & {"aws:kms", "AES256"}:
            report(f"bucket {name} has no default encryption (SSE-KMS or SSE-S3)")
        block = found.get("BucketPublicAccessBlock", {})
        flags = (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
        if not all(block.get(flag) is True for flag in flags):
            report(f"bucket {name} does not block all public access ({', '.join(flags)})")
        ownership = found.get("BucketOwnershipControls", {}).get("rule", {})
        if ownership.get("objectOwnership") != "BucketOwnerEnforced":
            report(f"bucket {name} does not enforce object ownership (BucketOwnerEnforced)")


def no_s3_wildcards(resource: Resource, report: Report) -> None:
    """S3 access is granted by name: no wildcard action, bucket or key, no NotAction/NotResource.

    One trailing ``*`` after a ``/`` ("everything under this prefix") is the only wildcard
    allowed, on a bucket and prefix that are themselves literal.
    """
    raw = resource.props.get("policy")
    if not isinstance(raw, str):
        return  # not known at preview: checked again on update
    statements = json.loads(raw).get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") != "Allow":
            continue
        for negation in ("NotAction", "NotResource"):
            if negation in statement:
                report(f"{resource.name}: an Allow with {negation} grants everything else")
        actions = _as_list(statement.get("Action"))
        s3_actions = [a for a in actions if a == "*" or a.lower().startswith("s3:")]
        wild = [a for a in s3_actions if _WILDCARD.search(a)]
        if wild:
            report(f"{resource.name}: grants {', '.join(wild)}; list the S3 actions needed")
        if not s3_actions:
            continue
        broad = [t for t in _as_list(statement.get("Resource")) if _broad_s3_resource(t)]
        if broad:
            report(
                f"{resource.name}: S3 access on {', '.join(broad)}; name the bucket and prefix "
                "(only a trailing '/*' may follow them)"
            )


_WILDCARD = re.compile(r"[*?]")


def _broad_s3_resource(arn: str) -> bool:
    if arn == "*":
        return True
    if not arn.startswith("arn:aws:s3:::"):
        return False
    bucket, _, key = arn.removeprefix("arn:aws:s3:::").partition("/")
    key = key.removesuffix("*") if key.endswith("/*") or key == "*" else key
    # `${aws:username}` and friends are resolved per caller: as open as a wildcard.
    return bool(_WILDCARD.search(bucket) or _WILDCARD.search(key) or "${" in arn)


def spark_application_well_formed(
    resource: Resource, report: Report, namespaces: Iterable[str] = DEFAULT_NAMESPACES
) -> None:
    """A restart policy object, resources for driver and executor, and our namespace."""
    props = resource.props
    spec = props.get("spec") or {}
    namespace = (props.get("metadata") or {}).get("namespace")
    if namespace not in set(namespaces):
        report(f"{resource.name}: namespace {namespace!r} is not a spark-streams namespace")
    policy = spec.get("restartPolicy")
    # Mapping, not dict: CrossGuard hands a pack its properties wrapped in read-only proxies.
    if not isinstance(policy, Mapping) or "type" not in policy:
        report(f"{resource.name}: spec.restartPolicy must be an object with a type")
    for role in ("driver", "executor"):
        pod = spec.get(role) or {}
        missing = [k for k in ("cores", "memory") if not pod.get(k)]
        if missing:
            report(f"{resource.name}: spec.{role} sets no {' or '.join(missing)}")


def prod_data_protected(
    resource: Resource, report: Report, pattern: str = DEFAULT_PROTECTED
) -> None:
    """Prod lake and checkpoint buckets carry ``protect``."""
    name = _bucket_name(resource.props)
    if re.search(pattern, name) and not resource.opts.protect:
        report(f"bucket {name} holds prod data and must be protected (protect=True)")


def images_pinned(
    resource: Resource, report: Report, stacks: Iterable[str] = DEFAULT_PINNED_STACKS
) -> None:
    """Workloads of the listed stacks name their images by digest, not by a movable tag."""
    props = resource.props
    labels = (props.get("metadata") or {}).get("labels") or {}
    if labels.get(STACK_LABEL) not in set(stacks):
        return
    for where, image in _images(props.get("spec") or {}):
        if isinstance(image, str) and not _PINNED.search(image):
            report(
                f"{resource.name}: {where} runs {image!r}, a tag that can be moved to other "
                "content; pin it: repo@sha256:<digest>"
            )


def _images(spec: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    """(where, image) of every container a SparkApplication or a Deployment starts."""
    template = spec.get("template")
    if isinstance(template, Mapping):  # a Deployment
        pods = [("spec.template.spec", template.get("spec") or {})]
    else:  # a SparkApplication: its own image, overridable per role
        yield "spec.image", spec.get("image")
        pods = [(f"spec.{role}", spec.get(role) or {}) for role in ("driver", "executor")]
        for where, pod in pods:
            if "image" in pod:
                yield f"{where}.image", pod["image"]
    for where, pod in pods:
        for kind in ("initContainers", "containers", "sidecars"):
            for container in pod.get(kind) or []:
                yield f"{where}.{kind}[{container.get('name')}]", container.get("image")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
