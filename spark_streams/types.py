"""Constrained scalar types shared by the stream model and the stack config.

Each type carries its own rule and error text so that a bad value is reported with the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
# Kubernetes label syntax (apimachinery validation): an optional DNS-subdomain prefix and '/',
# then a name of at most 63 characters; a value is such a name or empty.
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
LABEL_MAX = 63
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# A registry/repository: lowercase path components, an optional registry host with a port.
_REPOSITORY = re.compile(
    r"^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# Spark's own version strings: 3.5.5, 4.0.0-preview2.
_SPARK_VERSION = re.compile(r"^(?P<major>[0-9]+)\.(?P<minor>[0-9]+)\.[0-9]+(-[0-9A-Za-z.]+)?$")


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


def _label_key(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        raise ValueError(
            f"{value!r}: the prefix {prefix!r} is not a DNS subdomain; write e.g. "
            "'example.com/team' or no prefix"
        )
    if len(name) > LABEL_MAX or not _LABEL_NAME.match(name):
        raise ValueError(
            f"{value!r} is not a Kubernetes label key; use at most {LABEL_MAX} letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit (e.g. 'cost-center')"
        )
    return value


def _label_value(value: str) -> str:
    if value and (len(value) > LABEL_MAX or not _LABEL_NAME.match(value)):
        raise ValueError(
            f"{value!r} is not a Kubernetes label value; use at most {LABEL_MAX} letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit"
        )
    return value


def _team(value: str) -> str:
    if len(value) > LABEL_MAX or not _DNS1123_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a team name that fits a label value and an alert route; use "
            "lowercase letters, digits and '-' (e.g. 'data-platform')"
        )
    return value


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        raise ValueError(
            f"{value!r} is not a Kubernetes object name; use lowercase letters, digits, '-' and "
            "'.' (e.g. 'spark-driver-high')"
        )
    return value


def _image(value: str) -> str:
    """``repo:tag`` or ``repo@sha256:<64 hex>``; a digest, once written, must be whole."""
    name, at, digest = value.partition("@")
    if at and not _DIGEST.match(digest):
        raise ValueError(
            f"{value!r} has a malformed digest; write 'repo@sha256:' and the 64 lowercase hex "
            "digits (docker buildx imagetools inspect <image> prints them)"
        )
    repository, tag = name, ""
    if ":" in name.rsplit("/", 1)[-1]:
        repository, _, tag = name.rpartition(":")
    if not _REPOSITORY.match(repository) or (tag and not _TAG.match(tag)):
        raise ValueError(
            f"{value!r} is not an image reference; write 'registry/repository:tag' or "
            "'registry/repository@sha256:<digest>'"
        )
    return value


def _spark_version(value: str) -> str:
    if not _SPARK_VERSION.match(value):
        raise ValueError(f"{value!r} is not a Spark version; write major.minor.patch, e.g. '3.5.5'")
    return value


def spark_minor(version: str) -> str:
    """``'3.5'`` of a validated Spark version ``'3.5.5'``."""
    match = _SPARK_VERSION.match(version)
    if match is None:
        raise ValueError(f"not a Spark version: {version!r}")
    return f"{match['major']}.{match['minor']}"


@dataclass(frozen=True)
class Shown:
    """How the reference docs name a type (:mod:`spark_streams.reference`)."""

    name: str


StreamName = Annotated[str, AfterValidator(_stream_name), Shown("stream name")]
SparkMemory = Annotated[str, AfterValidator(_memory), Shown("Spark size, e.g. 2g")]
S3Uri = Annotated[str, AfterValidator(_s3_uri), Shown("S3 URI")]
CpuQuantity = Annotated[str, AfterValidator(_cpu), Shown("CPU quantity, e.g. 500m")]
Cores = Annotated[
    StrictInt,
    Field(ge=1, description="Whole CPU cores (Spark needs an integer)"),
    Shown("whole cores"),
]
Count = Annotated[StrictInt, Field(ge=1), Shown("integer >= 1")]
Seconds = Annotated[StrictInt, Field(ge=0), Shown("integer >= 0")]
LabelKey = Annotated[str, AfterValidator(_label_key), Shown("label key")]
LabelValue = Annotated[str, AfterValidator(_label_value), Shown("label value")]
TeamName = Annotated[str, AfterValidator(_team), Shown("team name")]
ObjectName = Annotated[str, AfterValidator(_dns_subdomain), Shown("Kubernetes name")]
Image = Annotated[str, AfterValidator(_image), Shown("image reference")]
SparkVersion = Annotated[str, AfterValidator(_spark_version), Shown("Spark version")]


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
