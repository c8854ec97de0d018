"""The twin's copy of a stack's config file: the committed ``Pulumi.<stack>.yaml`` as it is,
except what a twin cannot have, which it keeps in its own overrides (docs/twin.md):

- the secrets provider's salt (``encryptionsalt``, the twin's passphrase provider) and the
  ciphertext of every secret the stack declares under ``spark-streams:secrets`` (the committed
  file holds a placeholder or null there, never a value);
- where the operator's chart comes from (``spark-streams:operator.chartSource``): the chart the
  twin built, since the public repository cannot be reached.

usage: python -m twin.engine.stackcopy secrets STACK        keys the stack declares, one a line
       python -m twin.engine.stackcopy base STACK           committed config, secrets left out
       python -m twin.engine.stackcopy overrides SCRATCH_FILE CHART_SOURCE > OVERRIDES
       python -m twin.engine.stackcopy compose STACK OVERRIDES > COPY
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

PROJECT = Path(__file__).resolve().parents[2]
SECRETS = "spark-streams:secrets"
OPERATOR = "spark-streams:operator"


def committed(stack: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((PROJECT / f"Pulumi.{stack}.yaml").read_text())
    return document or {}


def declared_secrets(stack: str) -> list[str]:
    secrets = committed(stack).get("config", {}).get(SECRETS) or {}
    return sorted(secrets)


def base(stack: str) -> dict[str, Any]:
    document = committed(stack)
    document.get("config", {}).pop(SECRETS, None)
    return document


def overrides(scratch_file: Path, chart_source: str) -> dict[str, Any]:
    """What `pulumi stack init` and `pulumi config set --secret` wrote into the scratch copy,
    and the chart's source."""
    scratch: dict[str, Any] = yaml.safe_load(scratch_file.read_text())
    config = scratch.get("config", {})
    result: dict[str, Any] = {"config": {OPERATOR: {"chartSource": chart_source}}}
    if "encryptionsalt" in scratch:
        result["encryptionsalt"] = scratch["encryptionsalt"]
    if SECRETS in config:
        result["config"][SECRETS] = config[SECRETS]
    return result


def compose(stack: str, twin: dict[str, Any]) -> dict[str, Any]:
    document = committed(stack)
    config = document.setdefault("config", {})
    for key, value in twin.get("config", {}).items():
        if key == OPERATOR and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    for key, value in twin.items():
        if key != "config":
            document[key] = value
    return document


def main(argv: list[str]) -> None:
    match argv:
        case ["secrets", stack]:
            print("\n".join(declared_secrets(stack)))
        case ["base", stack]:
            print(yaml.safe_dump(base(stack), sort_keys=False), end="")
        case ["overrides", scratch_file, chart_source]:
            print(yaml.safe_dump(overrides(Path(scratch_file), chart_source), sort_keys=False))
        case ["compose", stack, overrides_file]:
            twin = yaml.safe_load(Path(overrides_file).read_text())
            print(yaml.safe_dump(compose(stack, twin), sort_keys=False), end="")
        case _:
            raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
