"""What the cluster's owner set up before the program first runs, done for the twin: the IAM
OIDC provider of the cluster's service-account issuer in the twin's AWS (moto), as `eksctl utils
associate-iam-oidc-provider` creates it, and the facts the stand-in answers the program's EKS
lookup with (twin/engine/aws_provider.py reads them from TWIN_CLUSTER).

usage: python -m twin.engine.cluster_owner STACK ENDPOINT CA_FILE ISSUER K8S_VERSION OUT_JSON
(AWS_ENDPOINT_URL and the fake credentials in the environment point boto3 at moto.)
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import boto3

from spark_streams.config import parse_stack_config
from spark_streams.stackfile import read

PROJECT = Path(__file__).resolve().parents[2]
# What EKS's issuers present; IAM requires a thumbprint, and nothing here checks it.
THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def main(argv: list[str]) -> None:
    stack, endpoint, ca_file, issuer, version, out = argv
    config = parse_stack_config(read(PROJECT, stack).values, file=f"Pulumi.{stack}.yaml")
    iam = boto3.client("iam", region_name=config.aws_region)
    known = {
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=p["Arn"])["Url"]
        for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    }
    if issuer.removeprefix("https://") not in known:
        iam.create_open_id_connect_provider(
            Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=[THUMBPRINT]
        )
    facts = {
        "name": config.cluster_name,
        "region": config.aws_region,
        "endpoint": endpoint,
        "certificateAuthority": base64.b64encode(Path(ca_file).read_bytes()).decode(),
        "issuer": issuer,
        "version": version,
    }
    Path(out).write_text(json.dumps(facts, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
