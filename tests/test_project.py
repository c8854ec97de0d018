"""The project's own set-up: what the type checker follows."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import PROJECT

_PROVIDER_USE = re.compile(r"(?<![\w.])(aws|k8s)\.([a-z][a-z0-9_]*)(?:\.(v[0-9a-z]+)\b)?")
_PACKAGES = {"aws": "pulumi_aws", "k8s": "pulumi_kubernetes"}


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
    used = {
        ".".join(filter(None, (_PACKAGES[alias], module, version)))
        for path in sources
        for alias, module, version in _PROVIDER_USE.findall(path.read_text())
    }
    assert used, "the pattern finds nothing: check it against the code"
    assert used <= followed, f"add to the followed modules in pyproject: {used - followed}"
