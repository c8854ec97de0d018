"""IAM: the generated documents' shape, parliament's lint, and access enforced on an AWS emulation."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from components.buckets import tls_only_policy
from spark_streams import iam
from spark_streams.resolve import EffectiveStream
from tests.conftest import effective_streams

KMS = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OIDC = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"
ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"


def streams(stack: str) -> tuple[EffectiveStream, ...]:
    return effective_streams(stack)


def access_policies() -> Iterator[tuple[str, dict[str, Any]]]:
    for stack, kms in (("dev", None), ("prod", KMS)):
        for stream in streams(stack):
            yield f"{stack}/{stream.name}", iam.access_policy(stream, kms)
        yield (
            f"{stack}/history-server",
            iam.history_server_policy(f"acme-data-{stack}-event-logs", kms),
        )


def lint(document: dict[str, Any]) -> list[tuple[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports the deprecated pkg_resources
        from parliament import analyze_policy_string

        return [(f.issue, f.detail) for f in analyze_policy_string(json.dumps(document)).findings]


@pytest.mark.parametrize(
    ("label", "document"), list(access_policies()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_identity_policies_have_no_parliament_findings(
    label: str, document: dict[str, Any]
) -> None:
    assert lint(document) == []


def test_bucket_policies_have_no_parliament_findings() -> None:
    assert lint(json.loads(tls_only_policy("acme-data-prod-lake"))) == []


# Parliament lints identity policies. A role trust policy has no Resource by definition, and
# parliament's list of federation principals knows SAML and a few web providers, not IAM OIDC
# providers; those two findings are about the linter, not the document, and nothing else is.
TRUST_POLICY_FALSE_POSITIVES = {
    ("MALFORMED", "Statement contains neither Resource nor NotResource"),
    ("UNKNOWN_FEDERATION_SOURCE", OIDC),
}


def test_trust_policies_have_no_other_parliament_findings() -> None:
    for stream in streams("prod"):
        findings = lint(
            iam.trust_policy(
                OIDC,
                ISSUER,
                stream.namespace,
                [stream.service_account, stream.executor_service_account],
            )
        )
        assert set(findings) <= TRUST_POLICY_FALSE_POSITIVES


def test_no_s3_wildcards_and_only_own_prefixes_are_writable() -> None:
    for label, document in access_policies():
        for statement in document["Statement"]:
            actions = statement["Action"]
            resources = (
                statement["Resource"]
                if isinstance(statement["Resource"], list)
                else [statement["Resource"]]
            )
            assert "s3:*" not in actions and "*" not in actions, label
            if any(a.startswith("s3:") for a in actions):
                assert all(
                    r.startswith("arn:aws:s3:::") and r != "arn:aws:s3:::*" for r in resources
                ), label
    (orders,) = [s for s in streams("dev") if s.name == "orders-ingest"]
    written = {
        r
        for statement in iam.access_policy(orders)["Statement"]
        if "s3:PutObject" in statement["Action"]
        for r in statement["Resource"]
    }
    assert written == {
        "arn:aws:s3:::acme-data-dev-lake/raw/orders-ingest",
        "arn:aws:s3:::acme-data-dev-lake/raw/orders-ingest/*",
        "arn:aws:s3:::acme-data-dev-checkpoints/orders-ingest/gen-0",
        "arn:aws:s3:::acme-data-dev-checkpoints/orders-ingest/gen-0/*",
        "arn:aws:s3:::acme-data-dev-event-logs/orders-ingest",
        "arn:aws:s3:::acme-data-dev-event-logs/orders-ingest/*",
    }


def test_kms_is_granted_only_when_buckets_use_kms() -> None:
    (orders,) = [s for s in streams("prod") if s.name == "orders-ingest"]
    assert any(s["Resource"] == KMS for s in iam.access_policy(orders, KMS)["Statement"])
    assert not any("kms:Decrypt" in s["Action"] for s in iam.access_policy(orders)["Statement"])


def test_trust_is_one_service_account_and_the_sts_audience() -> None:
    document = iam.trust_policy(OIDC, ISSUER, "spark-streams", ["orders-ingest"])
    (statement,) = document["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:spark-streams:orders-ingest",
            "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
        }
    }


# -- access on an AWS emulation (moto) that enforces IAM for every request after the set-up ----

REGION = "eu-west-1"
# Requests made with the emulation's root credentials before IAM is enforced: 3 buckets,
# 1 seed object, and for each of 3 roles create + policy (none for the control) + assume.
SETUP_REQUESTS = 3 + 1 + (3 + 3 - 1) + 3


def _assume(sts: Any, iam_client: Any, name: str, policy: dict[str, Any] | None) -> Any:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    if policy is not None:
        iam_client.put_role_policy(
            RoleName=name, PolicyName="access", PolicyDocument=json.dumps(policy)
        )
    credentials = sts.assume_role(RoleArn=arn, RoleSessionName=f"{name}-session")["Credentials"]
    return boto3.client(
        "s3",
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _can(action: Any) -> bool:
    try:
        action()
    except ClientError as error:
        assert error.response["Error"]["Code"] == "AccessDenied"
        return False
    return True


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_each_stream_role_reaches_its_own_prefixes_and_nothing_else(aws_env: None) -> None:
    by_name = {s.name: s for s in streams("dev")}
    orders, clicks = by_name["orders-ingest"], by_name["clickstream-ingest"]

    def scenario() -> dict[str, bool]:
        s3 = boto3.client("s3", region_name=REGION)
        for location in (orders.sink, orders.checkpoint, orders.event_log):
            s3.create_bucket(
                Bucket=location.bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        (reference,) = clicks.reads
        s3.put_object(Bucket=reference.bucket, Key=f"{reference.prefix}products.json", Body=b"{}")
        iam_client, sts = boto3.client("iam"), boto3.client("sts")
        as_orders = _assume(sts, iam_client, "orders", iam.access_policy(orders))
        as_clicks = _assume(sts, iam_client, "clicks", iam.access_policy(clicks))
        as_nobody = _assume(sts, iam_client, "nobody", None)

        def put(client: Any, bucket: str, key: str) -> Any:
            return lambda: client.put_object(Bucket=bucket, Key=key, Body=b"x")

        def get(client: Any, bucket: str, key: str) -> Any:
            return lambda: client.get_object(Bucket=bucket, Key=key)

        own = [
            (loc.bucket, f"{loc.prefix}part-0")
            for loc in (orders.sink, orders.checkpoint, orders.event_log)
        ]
        return {
            "orders writes its sink, checkpoint and event logs": all(
                _can(put(as_orders, b, k)) for b, k in own
            ),
            "orders reads them back": all(_can(get(as_orders, b, k)) for b, k in own),
            # what the driver's init container writes so that Spark finds its log directory
            "orders creates its event-log directory marker": _can(
                put(as_orders, orders.event_log.bucket, orders.event_log.prefix)
            ),
            "orders creates clickstream's event-log directory marker": _can(
                put(as_orders, clicks.event_log.bucket, clicks.event_log.prefix)
            ),
            "orders deletes in its checkpoint": _can(
                lambda: as_orders.delete_object(
                    Bucket=orders.checkpoint.bucket, Key=f"{orders.checkpoint.prefix}part-0"
                )
            ),
            "orders writes clickstream's sink": _can(
                put(as_orders, clicks.sink.bucket, f"{clicks.sink.prefix}x")
            ),
            "orders writes clickstream's checkpoint": _can(
                put(as_orders, clicks.checkpoint.bucket, f"{clicks.checkpoint.prefix}x")
            ),
            "orders reads clickstream's checkpoint": _can(
                get(as_orders, clicks.checkpoint.bucket, f"{clicks.checkpoint.prefix}x")
            ),
            "orders reads an input it did not declare": _can(
                get(as_orders, reference.bucket, f"{reference.prefix}products.json")
            ),
            "clickstream reads its declared input": _can(
                get(as_clicks, reference.bucket, f"{reference.prefix}products.json")
            ),
            "clickstream writes its declared input": _can(
                put(as_clicks, reference.bucket, f"{reference.prefix}x")
            ),
            "a role without our policy writes orders' sink": _can(put(as_nobody, *own[0])),
        }

    # moto's decorators: AWS mocked, its IAM checks on after the set-up requests
    mocked: Callable[[], dict[str, bool]] = set_initial_no_auth_action_count(SETUP_REQUESTS)(
        mock_aws(scenario)
    )
    assert mocked() == {
        "orders writes its sink, checkpoint and event logs": True,
        "orders reads them back": True,
        "orders creates its event-log directory marker": True,
        "orders creates clickstream's event-log directory marker": False,
        "orders deletes in its checkpoint": True,
        "orders writes clickstream's sink": False,
        "orders writes clickstream's checkpoint": False,
        "orders reads clickstream's checkpoint": False,
        "orders reads an input it did not declare": False,
        "clickstream reads its declared input": True,
        "clickstream writes its declared input": False,
        "a role without our policy writes orders' sink": False,
    }


# -- the cross-stream sink check against a brute-force oracle --------------------------------

segments = st.sampled_from(["a", "b", "ab", "raw", "raw-x"])
prefixes = st.lists(segments, min_size=1, max_size=3).map(lambda parts: "/".join(parts) + "/")


@given(st.lists(prefixes, min_size=1, max_size=8))
def test_sink_overlap_check_agrees_with_comparing_every_pair(sinks: list[str]) -> None:
    from spark_streams.discovery import StreamFile
    from spark_streams.inputs import resolve_checked
    from spark_streams.model import Stream
    from spark_streams.problems import InvalidInputError
    from tests.conftest import stack_config

    files = [
        StreamFile(Path(f"streams/s{i}.py"), Stream(name=f"s{i}", sink=f"s3://{{lake}}/{sink}"))
        for i, sink in enumerate(sinks)
    ]
    oracle = {
        f"s{j}"
        for i, a in enumerate(sinks)
        for j, b in enumerate(sinks)
        if i != j and (b.startswith(a) and (a != b or i < j))
    }
    try:
        resolve_checked(files, stack_config("dev"), "dev", ["dev", "prod"])
        reported: set[str] = set()
    except InvalidInputError as error:
        reported = {p.stream for p in error.problems if p.field == "sink" and p.stream}
    assert reported == oracle


# -- streams whose names are string prefixes of one another -----------------------------------
# moto does not evaluate condition keys such as s3:prefix, so these requests are decided by a
# small model of IAM's own rules for the statements we write: Allow only, `*` and `?` wildcards
# in resources, StringLike on s3:prefix, any matching statement allows.


def _like(pattern: str, value: str) -> bool:
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value) is not None


def _allowed(policy: dict[str, Any], action: str, arn: str, prefix: str | None = None) -> bool:
    for statement in policy["Statement"]:
        resources = statement["Resource"]
        if action not in statement["Action"] or not any(
            _like(r, arn) for r in ([resources] if isinstance(resources, str) else resources)
        ):
            continue
        wanted = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
        if wanted is None or (prefix is not None and any(_like(w, prefix) for w in wanted)):
            return True
    return False


def prefix_streams() -> list[EffectiveStream]:
    from spark_streams.discovery import StreamFile
    from spark_streams.inputs import resolve_checked
    from spark_streams.model import Stream
    from tests.conftest import stack_config

    names = [f"x-b{i}" for i in range(12)] + ["orders-ingest", "orders-ingest-eu"]
    files = [
        StreamFile(Path(f"streams/{n}.py"), Stream(name=n, sink="s3://{lake}/raw/{stream}/"))
        for n in names
    ]
    return resolve_checked(files, stack_config("dev"), "dev", ["dev", "prod"])


def test_no_stream_reads_writes_deletes_or_lists_anothers_objects() -> None:
    streams_ = prefix_streams()
    # What each stream writes: a file and a directory marker under each of its prefixes.
    keys = {
        s.name: {
            (loc.bucket, f"{loc.prefix}{leaf}")
            for loc in iam.own_locations(s)
            for leaf in ("part-0.parquet", "_spark_metadata/", "")
        }
        for s in streams_
    }
    every_key = {k for owned in keys.values() for k in owned}
    # Every listing that can return anything: each string prefix of each key, per bucket.
    listings = {(bucket, key[:i]) for bucket, key in every_key for i in range(len(key) + 1)}
    for stream in streams_:
        policy, mine = iam.access_policy(stream), keys[stream.name]
        for bucket, key in every_key - mine:
            arn = f"arn:aws:s3:::{bucket}/{key}"
            for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
                assert not _allowed(policy, action, arn), (stream.name, action, key)
        for bucket, key in mine:
            for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
                assert _allowed(policy, action, f"arn:aws:s3:::{bucket}/{key}"), (stream.name, key)
        for bucket, prefix in listings:
            if _allowed(policy, "s3:ListBucket", f"arn:aws:s3:::{bucket}", prefix):
                listed = {(b, k) for b, k in every_key if b == bucket and k.startswith(prefix)}
                assert listed <= mine, (stream.name, prefix, sorted(listed - mine)[:3])
        # and S3A's own listings of its directories (prefix "<dir>/") stay allowed
        for loc in iam.own_locations(stream):
            assert _allowed(policy, "s3:ListBucket", f"arn:aws:s3:::{loc.bucket}", loc.prefix)


def test_the_old_slashless_list_condition_would_expose_a_neighbours_keys() -> None:
    # The model above is strict enough to see the leak this replaced.
    by_name = {s.name: s for s in prefix_streams()}
    x_b1 = by_name["x-b1"]
    policy = iam.access_policy(x_b1)
    sink = x_b1.sink
    leaky = json.loads(json.dumps(policy))
    for statement in leaky["Statement"]:
        if "Condition" in statement:
            statement["Condition"]["StringLike"]["s3:prefix"].append(sink.prefix.rstrip("/"))
    arn = f"arn:aws:s3:::{sink.bucket}"
    assert _allowed(leaky, "s3:ListBucket", arn, "raw/x-b1")  # returns raw/x-b10/...
    assert not _allowed(policy, "s3:ListBucket", arn, "raw/x-b1")
