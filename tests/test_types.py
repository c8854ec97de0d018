"""Property tests for the scalar validators."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from spark_streams.types import (
    STREAM_NAME_MAX,
    S3Uri,
    SparkMemory,
    StreamName,
    memory_mib,
    split_s3_uri,
)

names = TypeAdapter(StreamName)
memories = TypeAdapter(SparkMemory)
uris = TypeAdapter(S3Uri)

valid_names = st.from_regex(r"\A[a-z]([-a-z0-9]{0,38}[a-z0-9])?\Z")


@given(valid_names)
def test_dns_labels_up_to_the_limit_are_stream_names(name: str) -> None:
    assert names.validate_python(name) == name


@given(st.text(min_size=1, max_size=60))
def test_a_stream_name_is_accepted_only_if_it_is_a_short_dns_label(name: str) -> None:
    import re

    ok = len(name) <= STREAM_NAME_MAX and re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name)
    if ok:
        assert names.validate_python(name) == name
    else:
        with pytest.raises(ValidationError):
            names.validate_python(name)


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from("kmgt"))
def test_spark_sizes_are_accepted_and_measured(amount: int, unit: str) -> None:
    size = f"{amount}{unit}"
    assert memories.validate_python(size) == size
    assert memory_mib(size) == int(amount * {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024**2}[unit])


@pytest.mark.parametrize("size", ["2GB", "2Gi", "2 g", "0g", "g", "2G", "-1g", "1.5g", ""])
def test_malformed_sizes_are_rejected_with_the_fix(size: str) -> None:
    with pytest.raises(ValidationError, match="lowercase unit"):
        memories.validate_python(size)


@given(
    st.from_regex(r"\A[a-z0-9][a-z0-9-]{2,20}[a-z0-9]\Z"),
    st.lists(st.from_regex(r"\A[a-z0-9_=]{1,10}\Z"), min_size=1, max_size=4),
)
def test_s3_uris_split_into_bucket_and_directory_prefix(bucket: str, parts: list[str]) -> None:
    uri = f"s3://{bucket}/{'/'.join(parts)}"
    assert uris.validate_python(uri) == uri
    assert split_s3_uri(uri) == (bucket, "/".join(parts) + "/")


@pytest.mark.parametrize("uri", ["raw/orders", "http://bucket/x", "s3:/bucket/x", "s3://B/x"])
def test_non_s3_uris_are_rejected(uri: str) -> None:
    with pytest.raises(ValidationError, match="not an S3 URI"):
        uris.validate_python(uri)


@given(
    st.sampled_from(["s3://{lake}/raw/", "s3://acme-lake/raw/orders"]),
    st.sampled_from(list("*?$ \t")),
    st.text(alphabet="abc/-", max_size=5),
)
def test_iam_wildcards_and_variables_never_reach_a_prefix(
    base: str, special: str, tail: str
) -> None:
    with pytest.raises(ValidationError, match="wildcard"):
        uris.validate_python(f"{base}{special}{tail}")
