"""Validation of placement, ownership and job inputs: each problem names file, stream, field, fix."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from spark_streams.checks import unschedulable
from spark_streams.config import parse_stack_config
from spark_streams.discovery import StreamFile
from spark_streams.inputs import resolve_checked
from spark_streams.model import (
    Affinity,
    Deps,
    Driver,
    Executor,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    StackOverride,
    Stream,
    Toleration,
)
from spark_streams.problems import InvalidInputError
from spark_streams.types import Image, LabelKey, LabelValue
from tests.conftest import stack_config, stack_values
from tests.test_discovery import messages

STACKS = ("dev", "prod")


def problems(*streams: Stream, stack: str = "dev") -> list[str]:
    files = [StreamFile(Path(f"streams/{s.name}.py"), s) for s in streams]
    with pytest.raises(InvalidInputError) as caught:
        resolve_checked(files, stack_config(stack), stack, STACKS)
    return [str(p) for p in caught.value.problems]


def stream(**fields: object) -> Stream:
    return Stream(name="a", owner="t", sink="s3://{lake}/a/", **fields)  # type: ignore[arg-type]


def term(*expressions: tuple[str, str, tuple[str, ...]]) -> NodeSelectorTerm:
    return NodeSelectorTerm(
        match_expressions=tuple(
            NodeSelectorRequirement(key=k, operator=o, values=v) for k, o, v in expressions
        )
    )


# --- ownership ---------------------------------------------------------------------------------


def test_prod_requires_an_owner_and_dev_does_not() -> None:
    ownerless = Stream(name="a", sink="s3://{lake}/a/")
    assert problems(ownerless, stack="prod") == [
        "streams/a.py: stream 'a': field 'owner': this stack requires every stream to name its "
        "owner (alerts are routed by it). Fix: owner='<team>', e.g. owner='data-platform'"
    ]
    files = [StreamFile(Path("streams/a.py"), ownerless)]
    assert resolve_checked(files, stack_config("dev"), "dev", STACKS)


def test_owner_labels_and_annotations_are_checked_where_they_are_written(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "from spark_streams.model import Stream\n"
        "stream = Stream(name='bad', sink='s3://{lake}/bad/', owner='Data Platform',\n"
        "    labels={'cost center': 'x', 'team': 'a b', 'example.com/ok': 'fine'},\n"
        "    annotations={'-x': 'anything'})\n"
    )
    found = messages(tmp_path)
    assert any("field 'owner'" in m and "team name" in m for m in found)
    assert any("field 'labels.cost center'" in m and "label key" in m for m in found)
    assert any("field 'labels.team'" in m and "label value" in m for m in found)
    assert any("field 'annotations.-x'" in m for m in found)
    assert not any("example.com/ok" in m for m in found)


@pytest.mark.parametrize(
    "key",
    ["spark-streams/identity", "app.kubernetes.io/name", "spark-role", "sparkoperator.k8s.io/x"],
)
def test_labels_that_select_pods_cannot_be_set_by_a_stream(key: str) -> None:
    # a stream labelled with another's identity would be let through that one's network policy
    (message,) = problems(stream(labels={key: "orders-ingest"}))
    assert f"field 'labels.{key}'" in message and "Fix: use a key of your own" in message


def test_labels_that_would_not_fit_iam_tags_are_refused() -> None:
    long_key = f"{'a' * 70}.example.com/{'b' * 60}"
    found = problems(stream(labels={long_key: "x", **{f"l{i}": "v" for i in range(48)}}))
    assert any(f"field 'labels.{long_key}'" in m and "at most 128" in m for m in found)
    assert any("field 'labels'" in m and "49 labels" in m for m in found)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"key": "spot", "operator": "Exists", "value": "x"}, "takes no value"),
        ({"operator": "Equal", "value": "x"}, "needs a key"),
    ],
)
def test_a_toleration_the_api_server_would_refuse_is_refused(
    fields: dict[str, str], expected: str
) -> None:
    with pytest.raises(ValidationError, match=expected):
        Toleration.model_validate(fields)


def test_the_do_not_disrupt_annotation_belongs_to_the_driver_setting() -> None:
    (message,) = problems(stream(annotations={"karpenter.sh/do-not-disrupt": "false"}))
    assert "field 'annotations.karpenter.sh/do-not-disrupt'" in message
    assert "driver.do_not_disrupt" in message


label_name = st.from_regex(r"\A[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z")


@given(st.one_of(label_name, st.text(max_size=70)))
def test_a_label_value_is_accepted_only_in_kubernetes_syntax(value: str) -> None:
    ok = value == "" or (
        len(value) <= 63 and re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", value)
    )
    adapter = TypeAdapter(LabelValue)
    if ok:
        assert adapter.validate_python(value) == value
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(value)


@given(
    st.one_of(st.just(""), st.from_regex(r"\A[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?\Z")), label_name
)
def test_a_label_key_is_an_optional_dns_prefix_and_a_name(prefix: str, name: str) -> None:
    key = f"{prefix}/{name}" if prefix else name
    valid_prefix = not prefix or all(
        re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", part) for part in prefix.split(".")
    )
    adapter = TypeAdapter(LabelKey)
    if valid_prefix:
        assert adapter.validate_python(key) == key
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(key)


# --- job inputs --------------------------------------------------------------------------------

DIGEST = "a" * 64


@pytest.mark.parametrize(
    "image",
    [
        "registry.example.com:5000/team/spark:3.5.5",
        f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/spark@sha256:{DIGEST}",
        "spark",
    ],
)
def test_images_by_tag_or_digest_are_accepted(image: str) -> None:
    assert TypeAdapter(Image).validate_python(image) == image


@pytest.mark.parametrize(
    "image",
    [
        f"acme/spark@sha256:{DIGEST[:-1]}",  # short
        f"acme/spark@sha256:{DIGEST.upper()}",
        f"acme/spark@sha512:{DIGEST}",
        "acme/spark@latest",
    ],
)
def test_a_malformed_digest_is_refused_with_the_fix(image: str) -> None:
    with pytest.raises(ValidationError, match=r"malformed digest.*64 lowercase hex"):
        TypeAdapter(Image).validate_python(image)


def test_a_bad_image_in_the_stack_config_names_its_key() -> None:
    values = stack_values("prod")
    values["spark"] = {**values["spark"], "image": "acme/spark@sha256:123"}
    with pytest.raises(InvalidInputError, match=r"field 'spark.image'.*malformed digest"):
        parse_stack_config(values, file="Pulumi.prod.yaml")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("lowercase", "x", "UPPER_SNAKE_CASE"),
        ("KAFKA_PASSWORD", "x", "looks like (or holds) a secret"),
        ("API_TOKEN", "x", "looks like (or holds) a secret"),
        ("JAAS", 'password="hunter2"', "looks like (or holds) a secret"),
        ("AWS_REGION", "eu-west-1", "set by EKS"),
        ("_SPARK_AUTH_SECRET", "x", "set by EKS"),
        ("SPARK_HOME", "/opt", "set by EKS"),
        ("KAFKA_SASL_PASSWORD", "x", "also set from a secret"),
    ],
)
def test_env_names_that_look_secret_or_collide_are_refused(
    name: str, value: str, expected: str
) -> None:
    found = problems(
        stream(env={name: value}, secrets={"KAFKA_SASL_PASSWORD": "kafka-sasl-password"})
    )
    assert [m for m in found if f"field 'env.{name}'" in m and expected in m], found


def test_plain_env_merges_stack_then_stream_then_stack_override() -> None:
    files = [
        StreamFile(
            Path("streams/a.py"),
            stream(
                env={"TOPIC": "orders", "MODE": "full"},
                stacks={"dev": StackOverride(env={"MODE": "sample"})},
            ),
        )
    ]
    (dev,) = resolve_checked(files, stack_config("dev"), "dev", STACKS)
    assert dev.env == {"TOPIC": "orders", "MODE": "sample"}


@pytest.mark.parametrize(
    ("deps", "field", "expected"),
    [
        (Deps(jars=("s3://bucket/x.jar",)), "deps.jars[0]", "unsupported scheme"),
        (Deps(py_files=("hdfs://x/y.py",)), "deps.py_files[0]", "unsupported scheme"),
        (Deps(files=("s3a://acme-data-dev-lake/ref/x.csv",)), "deps.files[0]", "add its prefix"),
        (Deps(repositories=("http://repo/maven",)), "deps.repositories[0]", "https://"),
        (Deps(packages=("kafka-clients",)), "deps.packages[0]", "Maven coordinate"),
        (Deps(exclude_packages=("a:b:c",)), "deps.exclude_packages[0]", "Maven coordinate"),
    ],
)
def test_dependency_schemes_and_coordinates_are_checked(
    deps: Deps, field: str, expected: str
) -> None:
    (message,) = problems(stream(deps=deps))
    assert f"field '{field}'" in message and expected in message and "Fix:" in message


def test_dependencies_the_stream_can_fetch_are_accepted() -> None:
    deps = Deps(
        jars=("local:///opt/spark/jars/x.jar", "https://repo.example.com/y.jar"),
        files=("s3a://acme-data-dev-lake/reference/products/list.csv",),
        packages=("org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.5",),
        repositories=("https://repo1.maven.org/maven2",),
        exclude_packages=("org.slf4j:slf4j-api",),
    )
    files = [
        StreamFile(
            Path("streams/a.py"), stream(deps=deps, reads=("s3://{lake}/reference/products/",))
        )
    ]
    (dev,) = resolve_checked(files, stack_config("dev"), "dev", STACKS)
    assert dev.deps == deps


# --- placement ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "values", "expected"),
    [
        ("In", (), "matches no node"),
        ("Exists", ("x",), "takes no values"),
        ("Gt", ("a",), "one whole number"),
        ("Lt", ("1", "2"), "one whole number"),
    ],
)
def test_a_requirement_whose_values_do_not_fit_its_operator_is_refused(
    operator: str, values: tuple[str, ...], expected: str
) -> None:
    with pytest.raises(ValidationError, match=expected):
        NodeSelectorRequirement(key="k", operator=operator, values=values)


def test_required_affinity_that_contradicts_the_node_selector_is_refused() -> None:
    spot_only = Affinity(required=(term(("karpenter.sh/capacity-type", "In", ("spot",))),))
    (message,) = problems(
        stream(
            driver=Driver(
                node_selector={"karpenter.sh/capacity-type": "on-demand"}, affinity=spot_only
            )
        ),
        stack="prod",
    )
    assert message.startswith("streams/a.py: stream 'a': field 'driver.affinity': no node can")
    assert "contradicts the node selector karpenter.sh/capacity-type=on-demand" in message


def test_the_shared_selector_counts_against_a_roles_affinity() -> None:
    # prod's shared selector is workload=spark
    elsewhere = Affinity(required=(term(("workload", "NotIn", ("spark",))),))
    (message,) = problems(stream(executor=Executor(affinity=elsewhere)), stack="prod")
    assert "field 'executor.affinity'" in message


def test_one_satisfiable_term_is_enough() -> None:
    either = Affinity(
        required=(
            term(("karpenter.sh/capacity-type", "In", ("spot",))),
            term(("topology.kubernetes.io/zone", "In", ("eu-west-1a",))),
        )
    )
    files = [
        StreamFile(
            Path("streams/a.py"),
            stream(driver=Driver(affinity=either)),
        )
    ]
    assert resolve_checked(files, stack_config("prod"), "prod", STACKS)


# A brute-force oracle: nodes are every labelling of two keys over three values (or absent, or a
# value no term names); a term is satisfiable iff one such node carries the selector and matches.
KEYS, VALUES = ("a", "b"), ("x", "y", "z")
requirements = st.builds(
    lambda key, operator, values: (
        key,
        operator,
        tuple(values) if operator in ("In", "NotIn") else (),
    ),
    st.sampled_from(KEYS),
    st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
    st.lists(st.sampled_from(VALUES), min_size=1, max_size=2, unique=True),
)


def _matches(node: dict[str, str], key: str, operator: str, values: tuple[str, ...]) -> bool:
    present = key in node
    return {
        "In": present and node.get(key) in values,
        "NotIn": not present or node.get(key) not in values,
        "Exists": present,
        "DoesNotExist": not present,
    }[operator]


@given(
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2),
    st.lists(st.lists(requirements, min_size=1, max_size=3), min_size=1, max_size=2),
)
def test_unschedulable_agrees_with_trying_every_node(
    selector: dict[str, str], terms: list[list[tuple[str, str, tuple[str, ...]]]]
) -> None:
    nodes = [
        {k: v for k, v in zip(KEYS, labels, strict=True) if v is not None}
        for labels in itertools.product([*VALUES, "other", None], repeat=len(KEYS))
    ]
    fits = any(
        all(node.get(k) == v for k, v in selector.items())
        and any(all(_matches(node, *r) for r in t) for t in terms)
        for node in nodes
    )
    pod = Driver(affinity=Affinity(required=tuple(term(*t) for t in terms)))
    assert (unschedulable(selector, pod) is None) == fits
