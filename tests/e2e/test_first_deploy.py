"""The first-deploy steps of docs/operating.md that the twin can run, through the real CLI."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.e2e.twin import STATE, Twin
from twin.engine import stackcopy


def test_a_secret_without_a_value_stops_the_preview_naming_it_and_the_fix(
    twin: Twin, tmp_path: Path
) -> None:
    # The twin's stack copy with its secrets provider but not its secrets' ciphertext: the
    # committed file as a first deploy meets it, after `pulumi stack init`.
    overrides = yaml.safe_load((STATE / "pulumi" / "overrides.yaml").read_text())
    overrides["config"].pop("spark-streams:secrets")
    config = tmp_path / f"Pulumi.{twin.stack}.yaml"
    config.write_text(yaml.safe_dump(stackcopy.compose(twin.stack, overrides)))
    assert stackcopy.compose(twin.stack, overrides)["config"]["spark-streams:secrets"] == {
        key: None for key in stackcopy.declared_secrets(twin.stack)
    }
    result = twin.pulumi("preview", "--config-file", str(config), check=False)
    out = result.stdout + result.stderr
    fix = (
        "pulumi config set --secret --path 'secrets.kafka-sasl-password' <value> "
        f"--stack {twin.stack}"
    )
    assert result.returncode == 1, out
    assert "nothing was planned" in out and fix in out, out
    # reported by the program alone, as under the real language host: no "unhandled error"
    assert "unhandled error" not in out, out
    twin.report.prove("an unset secret stops the preview", exit=result.returncode, fix=fix)
