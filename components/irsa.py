"""IRSA, written once: an IAM role only its service accounts may assume, its inline policy, and
those service accounts. Not a component of its own: the stream and the History Server each
create these under themselves, so their URNs stay where they are.
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
from spark_streams.metadata import applied

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
    # A second account of the same role for pods that never call the Kubernetes API (Spark
    # executors): it mounts no API token, and no RBAC binding names it.
    executor_service_account: str | None = None


@dataclass(frozen=True)
class WorkloadIdentity:
    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    service_account: k8s.core.v1.ServiceAccount
    executor_service_account: k8s.core.v1.ServiceAccount | None

    @property
    def accounts(self) -> list[k8s.core.v1.ServiceAccount]:
        """Every service account of the role: what its pods need before they start."""
        return [a for a in (self.service_account, self.executor_service_account) if a]


def workload_identity(
    name: str, args: WorkloadIdentityArgs, parent: pulumi.Resource
) -> WorkloadIdentity:
    """``<name>-role``, ``<name>-access``, ``<name>-sa`` (and ``<name>-executors``)."""
    child = pulumi.ResourceOptions(parent=parent)
    accounts = [args.service_account]
    if args.executor_service_account:
        accounts.append(args.executor_service_account)
    role = aws.iam.Role(
        f"{name}-role",
        name=args.role_name,
        description=args.description,
        assume_role_policy=irsa_trust_policy(
            args.oidc_provider_arn, args.oidc_issuer, args.namespace, accounts
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

    def metadata(account_name: str) -> k8s.meta.v1.ObjectMetaArgsDict:
        # EKS injects the role's web identity token into pods of an account with this
        # annotation, whether or not the account mounts a Kubernetes API token.
        result: k8s.meta.v1.ObjectMetaArgsDict = {
            "name": account_name,
            "namespace": args.namespace,
            "annotations": applied({ROLE_ARN_ANNOTATION: role.arn}),
        }
        if args.labels:
            result["labels"] = dict(args.labels)
        return result

    account = k8s.core.v1.ServiceAccount(
        f"{name}-sa", metadata=metadata(args.service_account), opts=child
    )
    executor = None
    if args.executor_service_account:
        executor = k8s.core.v1.ServiceAccount(
            f"{name}-executors",
            metadata=metadata(args.executor_service_account),
            automount_service_account_token=False,
            opts=child,
        )
    return WorkloadIdentity(role, policy, account, executor)


def irsa_trust_policy(
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer: pulumi.Input[str],
    namespace: str,
    service_accounts: list[str],
) -> pulumi.Output[str]:
    """Trust policy JSON letting only these accounts of ``namespace`` assume a role."""
    # The issuer host becomes part of the condition keys, so the document needs its value.
    return pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(
        lambda arn_issuer: json.dumps(
            iam.trust_policy(arn_issuer[0], arn_issuer[1], namespace, service_accounts)
        )
    )
