"""IAM policy documents as plain dicts: pure functions, linted with parliament in the tests.

A stream's role may read what the stream declares it reads, and read/write/delete only its own
sink, checkpoint and event-log prefixes. No ``s3:*``, no ``*`` resource for S3 actions.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from spark_streams.resolve import EffectiveStream, S3Location

VERSION = "2012-10-17"
_READ = ["s3:GetObject"]
_WRITE = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]


def trust_policy(
    oidc_provider_arn: str, issuer: str, namespace: str, service_accounts: list[str]
) -> dict[str, Any]:
    """Only ``service_accounts`` in ``namespace`` of this cluster may assume the role."""
    host = issuer.removeprefix("https://")
    subjects = [f"system:serviceaccount:{namespace}:{account}" for account in service_accounts]
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        # A list is any one of them; one account stays a plain string.
                        f"{host}:sub": subjects[0] if len(subjects) == 1 else subjects,
                        f"{host}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


def own_locations(stream: EffectiveStream) -> list[S3Location]:
    """Prefixes the stream writes: its sink, its checkpoint, its event logs."""
    return [stream.sink, stream.checkpoint, stream.event_log]


def access_policy(stream: EffectiveStream, kms_key_arn: Any = None) -> dict[str, Any]:
    """The stream role's permissions. ``kms_key_arn`` may be a Pulumi output."""
    statements: list[dict[str, Any]] = [
        *_list_statements([*own_locations(stream), *stream.reads]),
        _object_statement("ReadWriteOwnPrefixes", _WRITE, own_locations(stream)),
    ]
    if stream.reads:
        statements.append(_object_statement("ReadDeclaredInputs", _READ, list(stream.reads)))
    return {"Version": VERSION, "Statement": [*statements, *_key_statements(kms_key_arn)]}


def _key_statements(kms_key_arn: Any) -> list[dict[str, Any]]:
    """Use of the buckets' KMS key, where they have one (a Pulumi output, or None)."""
    if kms_key_arn is None:
        return []
    return [
        {
            "Sid": "UseBucketKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": kms_key_arn,
        }
    ]


def _object_statement(sid: str, actions: list[str], locations: list[S3Location]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": sorted({arn for loc in locations for arn in _object_arns(loc)}),
    }


def _object_arns(loc: S3Location) -> list[str]:
    # S3A probes a directory "a/b" with HEAD on the key "a/b" before listing "a/b/": allow that
    # one key, never "a/b*" (which would also match a neighbour's "a/bc/").
    directory = loc.prefix.rstrip("/")
    return [f"arn:aws:s3:::{loc.bucket}/{directory}", f"arn:aws:s3:::{loc.bucket}/{loc.prefix}*"]


def _list_statements(locations: list[S3Location]) -> list[dict[str, Any]]:
    """ListBucket per bucket, narrowed to the listings S3A makes under the stream's prefixes.

    S3A lists a directory ``a/b`` with the prefix ``a/b/``: to probe whether it exists
    (``getFileStatus``) and to list it (``listStatus``, ``listFiles``). A listing with the
    prefix ``a/b`` itself (no slash) would return ``a/bc/...`` too, a neighbour's key names,
    so it is not allowed: ``s3:prefix`` is ``a/b/`` or starts with it.
    """
    by_bucket: dict[str, set[str]] = defaultdict(set)
    for loc in locations:
        by_bucket[loc.bucket].update({loc.prefix, f"{loc.prefix}*"})
    return [
        {
            "Sid": f"List{index}",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": sorted(prefixes)}},
        }
        for index, (bucket, prefixes) in enumerate(sorted(by_bucket.items()))
    ]


def history_server_policy(bucket: str, kms_key_arn: Any = None) -> dict[str, Any]:
    """The Spark History Server's: it reads every stream's event logs, and it is their cleaner
    and compactor, so it writes `.compact` files and deletes the files they replace and the
    logs of applications past their retention. Nothing else."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListEventLogs",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{bucket}",
        },
        {
            "Sid": "CompactAndCleanEventLogs",
            "Effect": "Allow",
            "Action": _WRITE,
            "Resource": f"arn:aws:s3:::{bucket}/*",
        },
    ]
    return {"Version": VERSION, "Statement": [*statements, *_key_statements(kms_key_arn)]}
