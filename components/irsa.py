"""IRSA, written once: an IAM role only one service account may assume, its inline policy, and
that service account. Not a component of its own: the stream and the History Server each
create these three under themselves, so their URNs stay where they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from spark_streams import iam

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    namespace: str
    service_account: str
    role_name: str
    # The role's permissions; may hold Pulumi outputs (e.g. the KMS key's ARN).
    policy: Mapping[str, Any]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    description: str | None = None
    tags: Mapping[str, str] | None = None
    labels: Mapping[str, str] | None = None


@dataclass(frozen=True)
class WorkloadIdentity:
    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    service_account: k8s.core.v1.ServiceAccount


def workload_identity(
    name: str, args: WorkloadIdentityArgs, parent: pulumi.Resource
) -> WorkloadIdentity:
    """``<name>-role``, ``<name>-access`` and ``<name>-sa`` under ``parent``."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-role",
        name=args.role_name,
        description=args.description,
        assume_role_policy=irsa_trust_policy(
            args.oidc_provider_arn, args.oidc_issuer, args.namespace, args.service_account
        ),
        tags=args.tags,
        opts=child,
    )
    policy = aws.iam.RolePolicy(
        f"{name}-access",
        role=role.id,
        policy=pulumi.Output.json_dumps(args.policy),
        opts=child,
    )
    metadata: k8s.meta.v1.ObjectMetaArgsDict = {
        "name": args.service_account,
        "namespace": args.namespace,
        "annotations": {ROLE_ARN_ANNOTATION: role.arn},
    }
    if args.labels:
        metadata["labels"] = dict(args.labels)
    account = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=metadata, opts=child)
    return WorkloadIdentity(role, policy, account)


def irsa_trust_policy(
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer: pulumi.Input[str],
    namespace: str,
    service_account: str,
) -> pulumi.Output[str]:
    """Trust policy JSON letting only ``namespace/service_account`` of the cluster assume a role."""
    # The issuer host becomes part of the condition keys, so the document needs its value.
    return pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(
        lambda arn_issuer: json.dumps(
            iam.trust_policy(arn_issuer[0], arn_issuer[1], namespace, service_account)
        )
    )
