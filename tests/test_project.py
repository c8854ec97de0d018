"""The project's own set-up: what the type checker follows."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterable
from pathlib import Path

from tests.conftest import PROJECT

_PACKAGES = {"aws": "pulumi_aws", "k8s": "pulumi_kubernetes"}


def _provider_modules(path: Path) -> Iterable[str]:
    """``pulumi_aws.s3`` for ``aws.s3.Bucket``, ``pulumi_kubernetes.core.v1`` for
    ``k8s.core.v1.Pod``: the modules reached through the ``aws`` and ``k8s`` aliases."""
    for node in ast.walk(ast.parse(path.read_text())):
        chain: list[str] = []
        while isinstance(node, ast.Attribute):
            chain.insert(0, node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in _PACKAGES and chain:
            modules = [part for part in chain if part.islower()]
            if modules and modules[0] == chain[0]:
                # a version module (v1, v3) belongs to its group
                depth = 2 if len(modules) > 1 and modules[1][:1] == "v" else 1
                yield ".".join([_PACKAGES[node.id], *modules[:depth]])


def test_mypy_follows_every_provider_module_the_code_uses() -> None:
    # pyproject skips the provider modules the code does not use (minutes and GiBs of mypy);
    # one used but skipped would be typed as Any, silently.
    overrides = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    followed = {
        module
        for override in overrides
        if override.get("follow_imports") == "normal"
        for module in override["module"]
    }
    sources = [PROJECT / "__main__.py", *PROJECT.glob("components/*.py")]
    sources += [*PROJECT.glob("spark_streams/*.py"), *PROJECT.glob("policies/*.py")]
    used = {module for path in sources for module in _provider_modules(path)}
    assert used, "the pattern finds nothing: check it against the code"
    assert used <= followed, f"add to the followed modules in pyproject: {used - followed}"
