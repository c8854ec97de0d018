"""The policy pack's rules, each called on passing and failing resources (as CrossGuard would)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import spark_streams_policy as rules  # policies/ is on the test path, as Pulumi runs the pack
from pulumi_policy.proxy import unknown_checking_proxy

from spark_streams.cli import main


@dataclass
class Opts:
    protect: bool = False


@dataclass
class Res:
    resource_type: str
    props: dict[str, Any]
    name: str = "r"
    opts: Opts = field(default_factory=Opts)


def violations(rule: Any, *args: Any) -> list[str]:
    found: list[str] = []
    rule(*args, lambda message, *_: found.append(message))
    return found


def planned(stack: str, capsys: pytest.CaptureFixture[str], proxied: bool = False) -> list[Res]:
    """The stack's resources as the rules see them; ``proxied``: wrapped as CrossGuard wraps a
    resource's properties for a Python pack (read-only mappings and sequences, not dicts)."""
    assert main(["plan", "--json", "--stack", stack]) == 0
    return [
        Res(
            r["type"],
            unknown_checking_proxy(r["inputs"]) if proxied else r["inputs"],
            r["name"],
            Opts(r["protect"]),
        )
        for r in json.loads(capsys.readouterr().out)["resources"]
    ]


@pytest.mark.parametrize("proxied", [False, True], ids=["plain", "as-crossguard-passes-them"])
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_our_own_plans_pass_every_rule(
    stack: str, proxied: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    resources = planned(stack, capsys, proxied)
    assert violations(rules.buckets_hardened, resources) == []
    for r in resources:
        if r.resource_type in rules.ROLE_POLICIES:
            assert violations(rules.no_s3_wildcards, r) == []
        if r.resource_type == rules.SPARK_APPLICATION:
            assert violations(rules.spark_application_well_formed, r) == []
        if r.resource_type == rules.BUCKET:
            assert violations(rules.prod_data_protected, r) == []
        if r.resource_type in (rules.SPARK_APPLICATION, rules.DEPLOYMENT):
            assert violations(rules.images_pinned, r) == []


def test_a_bare_bucket_fails_every_hardening_check(capsys: pytest.CaptureFixture[str]) -> None:
    bare = Res(rules.BUCKET, {"bucket": "naked"})
    found = violations(rules.buckets_hardened, [bare, *planned("dev", capsys)])
    assert len(found) == 4 and all("naked" in m for m in found)


def test_a_weakened_bucket_is_caught(capsys: pytest.CaptureFixture[str]) -> None:
    resources = planned("dev", capsys)
    for r in resources:
        if r.resource_type.endswith("BucketPublicAccessBlock") and r.props["bucket"].endswith(
            "-lake"
        ):
            r.props["restrictPublicBuckets"] = False
    (message,) = violations(rules.buckets_hardened, resources)
    assert "acme-data-dev-lake" in message and "public" in message


def policy(statement: dict[str, Any]) -> Res:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}
    return Res("aws:iam/rolePolicy:RolePolicy", {"policy": json.dumps(document)})


@pytest.mark.parametrize(
    "statement",
    [
        {"Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
        {"Action": ["s3:GetObject"], "Resource": "*"},
        {"Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::*"]},
        {"Action": "*", "Resource": "arn:aws:s3:::b"},
        {"Action": "s3:Put*", "Resource": "arn:aws:s3:::b/p/*"},
        {"Action": "S3:*", "Resource": "arn:aws:s3:::b/p/*"},
        {"Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-*/p/*"},
        {"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/raw/orders-inges?/*"},
        {"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/raw/*/x"},
        {"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:userid}/*"},
        {"NotAction": "iam:*", "Resource": "arn:aws:s3:::b/p/*"},
        {"Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/p/*"},
    ],
)
def test_wildcard_s3_access_is_refused(statement: dict[str, Any]) -> None:
    assert violations(rules.no_s3_wildcards, policy(statement))


def test_a_single_statement_object_is_read_too() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
    }
    assert violations(
        rules.no_s3_wildcards, Res(rules.ROLE_POLICIES[0], {"policy": json.dumps(document)})
    )


def test_named_s3_access_passes() -> None:
    assert (
        violations(
            rules.no_s3_wildcards,
            policy({"Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/p/*"}),
        )
        == []
    )


def app(spec: dict[str, Any], namespace: str = "spark-streams") -> Res:
    return Res(rules.SPARK_APPLICATION, {"metadata": {"namespace": namespace}, "spec": spec})


GOOD = {
    "restartPolicy": {"type": "Always"},
    "driver": {"cores": 1, "memory": "1g"},
    "executor": {"cores": 1, "memory": "2g"},
}


def test_well_formed_application_passes() -> None:
    assert violations(rules.spark_application_well_formed, app(GOOD)) == []


@pytest.mark.parametrize(
    ("resource", "needle"),
    [
        (app({**GOOD, "restartPolicy": "Always"}), "restartPolicy"),
        (app({k: v for k, v in GOOD.items() if k != "restartPolicy"}), "restartPolicy"),
        (app({**GOOD, "executor": {"cores": 1}}), "spec.executor sets no memory"),
        (app({**GOOD, "driver": {}}), "spec.driver sets no cores or memory"),
        (app(GOOD, namespace="default"), "namespace 'default'"),
    ],
)
def test_malformed_applications_are_refused(resource: Res, needle: str) -> None:
    assert any(needle in m for m in violations(rules.spark_application_well_formed, resource))


def test_prod_data_buckets_must_be_protected() -> None:
    lake = Res(rules.BUCKET, {"bucket": "acme-data-prod-lake"})
    assert violations(rules.prod_data_protected, lake)
    lake.opts.protect = True
    assert violations(rules.prod_data_protected, lake) == []
    assert (
        violations(rules.prod_data_protected, Res(rules.BUCKET, {"bucket": "acme-data-dev-lake"}))
        == []
    )
    assert (
        violations(
            rules.prod_data_protected, Res(rules.BUCKET, {"bucket": "acme-data-prod-event-logs"})
        )
        == []
    )


PINNED = "acme/spark@sha256:" + "0" * 64


def workload(kind: str, stack: str, image: str) -> Res:
    metadata = {"labels": {rules.STACK_LABEL: stack}}
    if kind == rules.DEPLOYMENT:
        pod = {"containers": [{"name": "history-server", "image": image}]}
        return Res(kind, {"metadata": metadata, "spec": {"template": {"spec": pod}}})
    init = {"initContainers": [{"name": "event-log-directory", "image": image}]}
    return Res(kind, {"metadata": metadata, "spec": {**GOOD, "image": PINNED, "driver": init}})


@pytest.mark.parametrize("kind", [rules.SPARK_APPLICATION, rules.DEPLOYMENT])
def test_prod_workloads_must_run_images_by_digest(kind: str) -> None:
    (message,) = violations(rules.images_pinned, workload(kind, "prod", "acme/spark:3.5.5"))
    assert "'acme/spark:3.5.5'" in message and "repo@sha256:<digest>" in message
    assert violations(rules.images_pinned, workload(kind, "prod", PINNED)) == []
    assert violations(rules.images_pinned, workload(kind, "dev", "acme/spark:3.5.5")) == []
    # which stacks must pin is the rule's config
    found: list[str] = []
    rules.images_pinned(workload(kind, "dev", "acme/spark:3.5.5"), found.append, ["dev", "prod"])
    assert found


def test_our_prod_plan_would_fail_with_a_tag(capsys: pytest.CaptureFixture[str]) -> None:
    (app, *_) = [r for r in planned("prod", capsys) if r.resource_type == rules.SPARK_APPLICATION]
    app.props["spec"]["image"] = "acme/spark:3.5.5"
    assert violations(rules.images_pinned, app)


@dataclass
class Args(Res):
    config: dict[str, Any] = field(default_factory=dict)

    def get_config(self) -> dict[str, Any]:
        return self.config


def pack_policies(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The pack as `pulumi preview --policy-pack policies` builds it (without serving it)."""
    import runpy

    import pulumi_policy

    built: dict[str, Any] = {}
    monkeypatch.setattr(
        pulumi_policy, "PolicyPack", lambda **kw: built.update({p.name: p for p in kw["policies"]})
    )
    runpy.run_path(str(Path(rules.__file__).parent / "__main__.py"))
    return built


def test_the_pack_wires_every_rule_and_takes_its_config(monkeypatch: pytest.MonkeyPatch) -> None:
    policies = pack_policies(monkeypatch)
    assert set(policies) == {
        "buckets-hardened",
        "no-s3-wildcards",
        "spark-applications-well-formed",
        "prod-data-protected",
        "images-pinned-by-digest",
    }
    good = {"metadata": {"namespace": "streams-b"}, "spec": GOOD}
    found: list[str] = []
    check = policies["spark-applications-well-formed"].validate
    check(Args(rules.SPARK_APPLICATION, good), lambda m, *_: found.append(m))
    assert len(found) == 1  # not the default namespace
    config = {"namespaces": ["streams-a", "streams-b"]}
    check(Args(rules.SPARK_APPLICATION, good, config=config), lambda m, *_: found.append(m))
    assert len(found) == 1  # configured: passes
    protect = policies["prod-data-protected"].validate
    lake = {"bucket": "acme-data-live-lake"}
    protect(
        Args(rules.BUCKET, lake, config={"pattern": "-live-lake$"}), lambda m, *_: found.append(m)
    )
    assert len(found) == 2 and "acme-data-live-lake" in found[1]
