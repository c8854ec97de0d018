"""The data lake, checkpoint and event-log buckets, hardened, with a shared KMS key if asked.

Names are fixed by the stack config (``<prefix>-lake`` ...) so IAM policies and Spark paths can
be written before the buckets exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components import DATA_BUCKETS
from spark_streams.config import BucketsConfig

_SseDefault = (
    aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgsDict
)
Purpose = Literal["lake", "checkpoints", "event-logs"]
PURPOSES: tuple[Purpose, ...] = ("lake", "checkpoints", "event-logs")
# What may never be lost: the lake's data and the streams' progress.
PRECIOUS: frozenset[Purpose] = frozenset({"lake", "checkpoints"})


@dataclass(frozen=True)
class DataBucketsArgs:
    config: BucketsConfig


def tls_only_policy(bucket: str) -> str:
    """Bucket policy refusing every request not made over TLS."""
    arn = f"arn:aws:s3:::{bucket}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


class DataBuckets(pulumi.ComponentResource):
    kms_key_arn: pulumi.Output[str] | None
    names: dict[Purpose, str]
    # Once these exist a stream may write: the buckets, encrypted as configured.
    ready: list[pulumi.Resource]

    def __init__(
        self, name: str, args: DataBucketsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(DATA_BUCKETS, name, None, opts)
        config = args.config
        self.names = {purpose: config.name(purpose) for purpose in PURPOSES}
        key: aws.kms.Key | None = None
        if config.encryption == "sse-kms":
            key = aws.kms.Key(
                f"{name}-key",
                description=f"Encrypts the {config.prefix} spark-streams buckets",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                # Losing the key loses the data: guard it like the data.
                opts=pulumi.ResourceOptions(
                    parent=self, protect=config.protect, retain_on_delete=config.protect
                ),
            )
        self.kms_key_arn = key.arn if key else None
        self.ready = [self._bucket(name, purpose, config, key) for purpose in PURPOSES]
        self.register_outputs({"names": self.names, "kmsKeyArn": self.kms_key_arn})

    def _bucket(
        self, name: str, purpose: Purpose, config: BucketsConfig, key: aws.kms.Key | None
    ) -> pulumi.Resource:
        precious = config.protect and purpose in PRECIOUS
        bucket = aws.s3.Bucket(
            f"{name}-{purpose}",
            bucket=self.names[purpose],
            force_destroy=False,
            tags={"spark-streams/purpose": purpose},
            opts=pulumi.ResourceOptions(parent=self, protect=precious, retain_on_delete=precious),
        )
        child = pulumi.ResourceOptions(parent=bucket)
        aws.s3.BucketVersioning(
            f"{name}-{purpose}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        default: _SseDefault = (
            {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn}
            if key
            else {"sse_algorithm": "AES256"}
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-{purpose}-encryption",
            bucket=bucket.id,
            rules=[
                {"apply_server_side_encryption_by_default": default, "bucket_key_enabled": True}
            ],
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-{purpose}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-{purpose}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-{purpose}-tls-only",
            bucket=bucket.id,
            policy=tls_only_policy(self.names[purpose]),
            opts=child,
        )
        rules: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = [
            {
                "id": "expire-noncurrent-versions",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "noncurrent_version_expiration": {
                    "noncurrent_days": config.noncurrent_version_retention_days
                },
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            }
        ]
        # No rule expires a current object, event logs included: a rule cannot tell a running
        # application's files from a completed one's, and a stream running longer than the
        # retention would lose its first rolled file (its ApplicationStart) and its
        # appstatus_*.inprogress marker, after which Spark's reader refuses the whole log. The
        # History Server's cleaner deletes event logs (components/history_server.py); this
        # rule makes its deletes final after noncurrentVersionRetentionDays.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-{purpose}-lifecycle", bucket=bucket.id, rules=rules, opts=child
        )
        return encryption
