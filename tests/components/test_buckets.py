"""DataBuckets under Pulumi's mocks: hardened, encrypted as the stack says, prod data protected."""

from __future__ import annotations

import json

import pytest

from components.buckets import DataBuckets, DataBucketsArgs
from tests.components.conftest import Registrations, register
from tests.conftest import by_type, one, stack_config


def plan(stack: str) -> Registrations:
    config = stack_config(stack)
    return register(lambda: DataBuckets("data", DataBucketsArgs(config.buckets)), config, stack)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_bucket_is_versioned_private_owner_enforced_and_tls_only(stack: str) -> None:
    p = plan(stack)
    buckets = by_type(p, "aws:s3/bucket:Bucket")
    assert len(buckets) == 3
    for bucket in buckets:
        name = bucket.name
        versioning = one(p, "aws:s3/bucketVersioning:BucketVersioning", f"{name}-versioning")
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
        block = one(
            p, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-public-access"
        )
        assert all(
            block.inputs[k]
            for k in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            )
        )
        owner = one(
            p, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", f"{name}-ownership"
        )
        assert owner.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        policy = json.loads(
            one(p, "aws:s3/bucketPolicy:BucketPolicy", f"{name}-tls-only").inputs["policy"]
        )
        (deny,) = policy["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert bucket.inputs["bucket"] in deny["Resource"][0]


def test_dev_uses_sse_s3_and_prod_a_rotated_kms_key_with_bucket_keys() -> None:
    dev_rule = by_type(
        plan("dev"),
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )[0].inputs["rules"][0]
    assert dev_rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    prod = plan("prod")
    (key,) = by_type(prod, "aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    for config in by_type(
        prod,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    ):
        rule = config.inputs["rules"][0]
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
        assert rule["bucketKeyEnabled"] is True


def test_lifecycle_expires_old_versions_never_a_current_object() -> None:
    # Not even an event log: a rule cannot tell a running application's files from a completed
    # one's; the History Server's cleaner deletes them (test_history_server.py).
    p = plan("prod")
    for purpose in ("lake", "checkpoints", "event-logs"):
        rules = one(
            p,
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            f"data-{purpose}-lifecycle",
        ).inputs["rules"]
        assert any("noncurrentVersionExpiration" in r for r in rules)
        assert not [r for r in rules if "expiration" in r]
