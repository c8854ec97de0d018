"""The twin's aws stand-in (twin/engine/aws_provider.py), called as the engine calls it, against an
in-process moto: each resource kind round-trips without inventing drift, out-of-band changes are
seen, replacements are declared as the real provider declares them, and AWS's refusals stop it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NoReturn

import boto3
import pytest
from moto import mock_aws
from pulumi.runtime.proto import provider_pb2

from twin.engine.aws_provider import TwinAwsProvider
from twin.engine.aws_resources import UNKNOWN
from twin.engine.plugin import to_dict, to_struct

REGION = "eu-west-1"
ISSUER = "https://kubernetes.default.svc.cluster.local"
_DIFF = provider_pb2.DiffResponse


class RefusedError(Exception):
    pass


class Context:
    """The servicer context: an abort is what the engine shows as the resource's error."""

    def abort(self, code: object, message: str) -> NoReturn:
        raise RefusedError(message)


class Engine:
    """The calls the engine makes for one resource, in its order."""

    def __init__(self, provider: TwinAwsProvider) -> None:
        self.provider = provider
        self.context: Any = Context()

    @staticmethod
    def urn(token: str, name: str) -> str:
        return f"urn:pulumi:dev::spark-streams::spark-streams:storage:DataBuckets${token}::{name}"

    def check(
        self, token: str, name: str, news: dict[str, Any], olds: dict[str, Any] | None = None
    ) -> provider_pb2.CheckResponse:
        request = provider_pb2.CheckRequest(
            urn=self.urn(token, name),
            news=to_struct(news),
            olds=to_struct(olds or {}),
            randomSeed=name.encode(),
        )
        return self.provider.Check(request, self.context)

    def create(self, token: str, name: str, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        checked = self.check(token, name, news)
        assert not checked.failures, checked.failures
        created = self.provider.Create(
            provider_pb2.CreateRequest(urn=self.urn(token, name), properties=checked.inputs),
            self.context,
        )
        return created.id, to_dict(created.properties)

    def read(
        self, token: str, name: str, ident: str, state: dict[str, Any], inputs: dict[str, Any]
    ) -> provider_pb2.ReadResponse:
        request = provider_pb2.ReadRequest(
            id=ident,
            urn=self.urn(token, name),
            properties=to_struct(state),
            inputs=to_struct(inputs),
        )
        return self.provider.Read(request, self.context)

    def diff(
        self, token: str, name: str, state: dict[str, Any], news: dict[str, Any]
    ) -> provider_pb2.DiffResponse:
        checked = to_dict(self.check(token, name, news, state).inputs)
        request = provider_pb2.DiffRequest(
            id="x",
            urn=self.urn(token, name),
            olds=to_struct(state),
            news=to_struct(checked),
            old_inputs=to_struct(checked),
        )
        return self.provider.Diff(request, self.context)


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "twin",
        "AWS_SECRET_ACCESS_KEY": "twin",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        provider = TwinAwsProvider()
        engine = Engine(provider)
        provider.Configure(
            provider_pb2.ConfigureRequest(variables={"aws:config:region": REGION}), engine.context
        )
        yield engine


def oidc_provider() -> str:
    arn: str = boto3.client("iam", region_name=REGION).create_open_id_connect_provider(
        Url=ISSUER, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["0" * 40]
    )["OpenIDConnectProviderArn"]
    return arn


def trust(federated: str) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": federated},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def tls_only(bucket: str) -> str:
    arn = f"arn:aws:s3:::{bucket}"
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


BUCKET = "aws:s3/bucket:Bucket"
SETTINGS: list[tuple[str, dict[str, Any]]] = [
    (
        "aws:s3/bucketVersioning:BucketVersioning",
        {"versioningConfiguration": {"status": "Enabled"}},
    ),
    (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        {
            "rules": [
                {
                    "applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"},
                    "bucketKeyEnabled": True,
                }
            ]
        },
    ),
    (
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        dict.fromkeys(
            ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"),
            True,
        ),
    ),
    (
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        {"rule": {"objectOwnership": "BucketOwnerEnforced"}},
    ),
    (
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        {
            "rules": [
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "noncurrentVersionExpiration": {"noncurrentDays": 7},
                    "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
                }
            ]
        },
    ),
    ("aws:s3/bucketPolicy:BucketPolicy", {"policy": tls_only("acme-lake")}),
]


@pytest.mark.parametrize(("token", "inputs"), SETTINGS, ids=[t.split(":")[-1] for t, _ in SETTINGS])
def test_a_bucket_setting_reads_back_as_created_and_diffs_as_unchanged(
    engine: Engine, token: str, inputs: dict[str, Any]
) -> None:
    engine.create(BUCKET, "lake", {"bucket": "acme-lake", "forceDestroy": False})
    news = {"bucket": "acme-lake", **inputs}
    ident, state = engine.create(token, "setting", news)
    assert ident == "acme-lake"
    read = engine.read(token, "setting", ident, state, news)
    assert to_dict(read.properties) == state
    assert engine.diff(token, "setting", to_dict(read.properties), news).changes == _DIFF.DIFF_NONE


def test_an_out_of_band_change_is_seen_by_refresh_and_diffed(engine: Engine) -> None:
    token, inputs = SETTINGS[0]
    engine.create(BUCKET, "lake", {"bucket": "acme-lake"})
    news = {"bucket": "acme-lake", **inputs}
    ident, state = engine.create(token, "versioning", news)
    boto3.client("s3", region_name=REGION).put_bucket_versioning(
        Bucket="acme-lake", VersioningConfiguration={"Status": "Suspended"}
    )
    refreshed = to_dict(engine.read(token, "versioning", ident, state, news).properties)
    assert refreshed["versioningConfiguration"]["status"] == "Suspended"
    diff = engine.diff(token, "versioning", refreshed, news)
    assert list(diff.diffs) == ["versioningConfiguration"]
    assert not diff.replaces


def test_a_resource_deleted_out_of_band_reads_as_gone(engine: Engine) -> None:
    ident, state = engine.create(BUCKET, "lake", {"bucket": "acme-lake"})
    boto3.client("s3", region_name=REGION).delete_bucket(Bucket="acme-lake")
    assert engine.read(BUCKET, "lake", ident, state, {"bucket": "acme-lake"}).id == ""


def test_a_new_bucket_name_is_a_replacement_deleted_first(engine: Engine) -> None:
    _, state = engine.create(BUCKET, "lake", {"bucket": "acme-lake", "tags": {"a": "b"}})
    diff = engine.diff(BUCKET, "lake", state, {"bucket": "acme-lake-2", "tags": {"a": "b"}})
    assert list(diff.replaces) == ["bucket"]
    assert diff.deleteBeforeReplace  # the name is the program's: it cannot exist twice
    tags_only = engine.diff(BUCKET, "lake", state, {"bucket": "acme-lake", "tags": {"a": "c"}})
    assert list(tags_only.diffs) == ["tags"] and not tags_only.replaces


def test_an_unknown_value_in_preview_may_change() -> None:
    from twin.engine.aws_resources import differs

    assert differs(UNKNOWN, "acme-lake")
    assert not differs({"status": "Enabled"}, {"status": "Enabled", "mfaDelete": "Disabled"})


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Bad_Name", "only lowercase alphanumeric characters and hyphens"),
        ("ab", "between 3 and 63 characters"),
        ("-acme", "begin and end with a letter or number"),
    ],
)
def test_a_bucket_name_aws_refuses_stops_the_create(
    engine: Engine, name: str, problem: str
) -> None:
    with pytest.raises(RefusedError, match=problem):
        engine.create(BUCKET, "lake", {"bucket": name})


def test_a_name_that_exists_is_refused_as_aws_refuses_it(engine: Engine) -> None:
    engine.create(BUCKET, "lake", {"bucket": "acme-lake"})
    with pytest.raises(RefusedError, match="BucketAlreadyOwnedByYou"):
        engine.create(BUCKET, "other", {"bucket": "acme-lake"})
    arn = oidc_provider()
    engine.create("aws:iam/role:Role", "role", {"name": "acme-r", "assumeRolePolicy": trust(arn)})
    with pytest.raises(RefusedError, match="EntityAlreadyExists"):
        engine.create(
            "aws:iam/role:Role", "again", {"name": "acme-r", "assumeRolePolicy": trust(arn)}
        )


def test_a_policy_that_is_not_json_fails_check(engine: Engine) -> None:
    checked = engine.check("aws:s3/bucketPolicy:BucketPolicy", "p", {"bucket": "b", "policy": "{x"})
    assert [f.property for f in checked.failures] == ["policy"]
    assert "invalid JSON" in checked.failures[0].reason


def test_an_input_the_stand_in_does_not_perform_fails_check(engine: Engine) -> None:
    checked = engine.check(BUCKET, "lake", {"bucket": "acme-lake", "objectLockEnabled": True})
    assert [f.property for f in checked.failures] == ["objectLockEnabled"]


@pytest.mark.parametrize(
    ("policy", "refusal"),
    [
        (tls_only("other-bucket"), "Policy has invalid resource"),
        (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}), "Principal"),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::acme-lake/*",
                        }
                    ],
                }
            ),
            "AccessDenied",  # public, while the bucket blocks public policies
        ),
    ],
)
def test_a_bucket_policy_aws_refuses_stops_the_create(
    engine: Engine, policy: str, refusal: str
) -> None:
    engine.create(BUCKET, "lake", {"bucket": "acme-lake"})
    token, block = SETTINGS[2]
    engine.create(token, "block", {"bucket": "acme-lake", **block})
    with pytest.raises(RefusedError, match=refusal):
        engine.create(
            "aws:s3/bucketPolicy:BucketPolicy", "p", {"bucket": "acme-lake", "policy": policy}
        )


def test_iam_refuses_a_malformed_role_policy_and_a_trust_in_an_unknown_provider(
    engine: Engine,
) -> None:
    arn = oidc_provider()
    role = "aws:iam/role:Role"
    with pytest.raises(RefusedError, match='Invalid principal in policy: "Federated"'):
        engine.create(role, "role", {"name": "acme-r", "assumeRolePolicy": trust(arn + "-x")})
    engine.create(role, "role", {"name": "acme-r", "assumeRolePolicy": trust(arn)})
    no_resource = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}
    with pytest.raises(RefusedError, match="MalformedPolicyDocument"):
        engine.create(
            "aws:iam/rolePolicy:RolePolicy",
            "access",
            {"role": "acme-r", "policy": json.dumps(no_resource)},
        )


def test_a_role_and_its_autonamed_policy_round_trip(engine: Engine) -> None:
    arn = oidc_provider()
    role = {"name": "acme-r", "assumeRolePolicy": trust(arn), "tags": {"team": "data"}}
    ident, state = engine.create("aws:iam/role:Role", "role", role)
    assert state["arn"] == "arn:aws:iam::123456789012:role/acme-r"
    read = to_dict(engine.read("aws:iam/role:Role", "role", ident, state, role).properties)
    assert read == state
    token = "aws:iam/rolePolicy:RolePolicy"
    policy = {"role": "acme-r", "policy": tls_only("acme-lake").replace("Deny", "Allow")}
    first = to_dict(engine.check(token, "access", policy).inputs)
    assert first["name"].startswith("access-") and first["__defaults"] == ["name"]
    # The autoname is kept across deploys: no replacement on every run.
    again = to_dict(engine.check(token, "access", policy, olds=first).inputs)
    assert again["name"] == first["name"]
    ident, state = engine.create(token, "access", policy)
    assert ident == f"acme-r:{state['name']}"
    assert engine.diff(token, "access", state, policy).changes == _DIFF.DIFF_NONE


def test_a_kms_key_round_trips_and_its_deletion_is_scheduled(engine: Engine) -> None:
    token = "aws:kms/key:Key"
    inputs = {"description": "d", "enableKeyRotation": True, "deletionWindowInDays": 30}
    ident, state = engine.create(token, "key", inputs)
    assert state["enableKeyRotation"] is True and state["arn"].endswith(ident)
    assert to_dict(engine.read(token, "key", ident, state, inputs).properties) == state
    engine.provider.Delete(
        provider_pb2.DeleteRequest(
            id=ident, urn=engine.urn(token, "key"), properties=to_struct(state)
        ),
        engine.context,
    )
    assert engine.read(token, "key", ident, state, inputs).id == ""  # pending deletion


def test_the_lookups_answer_for_the_twin(
    engine: Engine, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = tmp_path / "cluster.json"
    facts = {
        "name": "data-platform-dev",
        "region": REGION,
        "endpoint": "https://127.0.0.1:16403",
        "certificateAuthority": "Q0E=",
        "issuer": ISSUER,
        "version": "1.36",
    }
    cluster.write_text(json.dumps(facts))
    monkeypatch.setenv("TWIN_CLUSTER", str(cluster))
    arn = oidc_provider()

    def invoke(token: str, args: dict[str, Any]) -> dict[str, Any]:
        request = provider_pb2.InvokeRequest(tok=token, args=to_struct(args))
        return to_dict(getattr(engine.provider.Invoke(request, engine.context), "return"))

    found = invoke("aws:eks/getCluster:getCluster", {"name": "data-platform-dev"})
    assert found["endpoint"] == facts["endpoint"]
    assert found["certificateAuthorities"] == [{"data": "Q0E="}]
    assert found["identities"][0]["oidcs"][0]["issuer"] == ISSUER
    oidc = invoke("aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider", {"url": ISSUER})
    assert oidc["arn"] == arn
    with pytest.raises(RefusedError, match="couldn't find resource"):
        invoke("aws:eks/getCluster:getCluster", {"name": "data-platform-prod"})


def test_a_previewed_create_touches_nothing_and_leaves_aws_decided_outputs_unknown(
    engine: Engine,
) -> None:
    checked = engine.check(BUCKET, "lake", {"bucket": "acme-lake"})
    previewed = engine.provider.Create(
        provider_pb2.CreateRequest(
            urn=engine.urn(BUCKET, "lake"), properties=checked.inputs, preview=True
        ),
        engine.context,
    )
    outputs = to_dict(previewed.properties)
    assert outputs["bucket"] == "acme-lake" and outputs["arn"] == UNKNOWN
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []
