"""Cluster under mocks: explicit providers, the OIDC issuer looked up from the existing cluster."""

from __future__ import annotations

import json

from components.cluster import Cluster, ClusterArgs
from tests.components.conftest import register
from tests.conftest import one, stack_config


def test_providers_are_explicit_and_authenticate_with_aws_eks_get_token() -> None:
    config = stack_config("dev")
    plan = register(
        lambda: Cluster("cluster", ClusterArgs("eu-west-1", "data-platform-dev")), config, "dev"
    )
    aws = one(plan, "pulumi:providers:aws", "cluster-aws")
    assert aws.inputs["region"] == "eu-west-1"
    k8s = one(plan, "pulumi:providers:kubernetes", "cluster-k8s")
    kubeconfig = json.loads(k8s.inputs["kubeconfig"])
    user = kubeconfig["users"][0]["user"]["exec"]
    assert user["command"] == "aws"
    assert user["args"][:4] == ["eks", "get-token", "--cluster-name", "data-platform-dev"]
    assert kubeconfig["clusters"][0]["cluster"]["server"].startswith("<unknown:")
