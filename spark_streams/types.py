"""Constrained scalar types shared by the stream model and the stack config.

Each type carries its own rule and error text so that a bad value is reported with the fix.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, StrictInt

# The operator derives pod and service names from the application name ("<name>-driver",
# "<name>-ui-svc", ...), and the IAM role name adds a prefix, so stay well under 63.
STREAM_NAME_MAX = 40
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_MEMORY = re.compile(r"^[1-9][0-9]*[kmgt]$")
_S3_URI = re.compile(r"^s3a?://(?P<bucket>\{lake\}|[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?P<key>/.*)?$")
_IAM_SPECIAL = re.compile(r"[*?$\s]")
_PLACEHOLDER_BUCKET = re.compile(r"^s3a?://(\{[^}]*\})")
_CPU = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")
_DURATION_S = re.compile(r"^[0-9]+$")


def _stream_name(value: str) -> str:
    if len(value) > STREAM_NAME_MAX:
        raise ValueError(
            f"{value!r} is {len(value)} characters; use at most {STREAM_NAME_MAX} "
            "(the operator derives longer pod and service names from it)"
        )
    if not _DNS1035.match(value):
        raise ValueError(
            f"{value!r} is not a Kubernetes DNS-1035 label; use lowercase letters, digits and "
            "'-', starting with a letter and not ending with '-' (e.g. 'orders-ingest')"
        )
    return value


def _memory(value: str) -> str:
    if not _MEMORY.match(value):
        raise ValueError(
            f"{value!r} is not a Spark memory size; write a whole number and a lowercase unit "
            "k, m, g or t (e.g. '2g', '512m'), not '2GB' or '2Gi'"
        )
    return value


def _s3_uri(value: str) -> str:
    bucket = _PLACEHOLDER_BUCKET.match(value)
    if bucket and bucket.group(1) != "{lake}":
        raise ValueError(
            f"unknown placeholder {bucket.group(1)} in {value!r}; use {{lake}} for the stack's "
            "data-lake bucket (and {stream} in the prefix for the stream's identity)"
        )
    if not _S3_URI.match(value):
        raise ValueError(
            f"{value!r} is not an S3 URI; write 's3://{{lake}}/<prefix>/' for the data lake "
            "or 's3://<bucket>/<prefix>/'"
        )
    special = sorted(set(_IAM_SPECIAL.findall(value)))
    if special:
        # The prefix lands in IAM resource ARNs, where these would match other streams' data.
        shown = ", ".join(repr(c) for c in special)
        raise ValueError(
            f"{value!r} holds {shown}, which IAM reads as a wildcard or variable (or S3 as a "
            "space); write the literal prefix, e.g. 's3://{lake}/raw/orders/'"
        )
    return value


def _cpu(value: str) -> str:
    if not _CPU.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes CPU quantity; write e.g. '500m' or '1.5'")
    return value


StreamName = Annotated[str, AfterValidator(_stream_name)]
SparkMemory = Annotated[str, AfterValidator(_memory)]
S3Uri = Annotated[str, AfterValidator(_s3_uri)]
CpuQuantity = Annotated[str, AfterValidator(_cpu)]
Cores = Annotated[StrictInt, Field(ge=1, description="Whole CPU cores (Spark needs an integer)")]
Count = Annotated[StrictInt, Field(ge=1)]
Seconds = Annotated[StrictInt, Field(ge=0)]


def memory_mib(size: str) -> int:
    """Size of a validated Spark memory string in MiB (rounded down)."""
    factor = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}[size[-1]]
    return int(int(size[:-1]) * factor)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """('bucket', 'key/prefix/') of a validated S3 URI, key normalised to end with '/'."""
    match = _S3_URI.match(uri)
    if match is None:
        raise ValueError(f"not an S3 URI: {uri!r}")
    key = (match.group("key") or "/").strip("/")
    return match.group("bucket"), f"{key}/" if key else ""
