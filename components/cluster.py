"""The existing EKS cluster: explicit AWS and Kubernetes providers and its OIDC identity."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import CLUSTER


@dataclass(frozen=True)
class ClusterArgs:
    region: str
    cluster_name: str


class Cluster(pulumi.ComponentResource):
    """Looks up the cluster (nothing here creates cloud resources) and builds the providers."""

    aws_provider: aws.Provider
    k8s_provider: k8s.Provider
    python_provider: pulumi.ProviderResource
    oidc_issuer: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(CLUSTER, name, None, opts)
        self.aws_provider = aws.Provider(
            f"{name}-aws", region=args.region, opts=pulumi.ResourceOptions(parent=self)
        )
        invoke = pulumi.InvokeOutputOptions(parent=self, provider=self.aws_provider)
        eks = aws.eks.get_cluster_output(name=args.cluster_name, opts=invoke)
        self.oidc_issuer = eks.identities[0].oidcs[0].issuer
        self.oidc_provider_arn = aws.iam.get_open_id_connect_provider_output(
            url=self.oidc_issuer, opts=invoke
        ).arn
        # Tokens come from `aws eks get-token` at run time: no credentials in the state.
        self.kubeconfig = pulumi.Output.json_dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": args.cluster_name,
                        "cluster": {
                            "server": eks.endpoint,
                            "certificate-authority-data": eks.certificate_authorities[0].data,
                        },
                    }
                ],
                "contexts": [
                    {
                        "name": args.cluster_name,
                        "context": {"cluster": args.cluster_name, "user": "aws"},
                    }
                ],
                "current-context": args.cluster_name,
                "users": [
                    {
                        "name": "aws",
                        "user": {
                            "exec": {
                                "apiVersion": "client.authentication.k8s.io/v1beta1",
                                "command": "aws",
                                "args": [
                                    "eks",
                                    "get-token",
                                    "--cluster-name",
                                    args.cluster_name,
                                    "--region",
                                    args.region,
                                ],
                            }
                        },
                    }
                ],
            }
        )
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, opts=pulumi.ResourceOptions(parent=self)
        )
        # The engine's plugin for the program's Python dynamic resources (the stream waits),
        # explicit as the others: the state then holds no default provider.
        self.python_provider = pulumi.ProviderResource(
            "pulumi-python", f"{name}-python", {}, opts=pulumi.ResourceOptions(parent=self)
        )
        self.register_outputs(
            {"oidcIssuer": self.oidc_issuer, "oidcProviderArn": self.oidc_provider_arn}
        )
