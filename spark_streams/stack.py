"""Reading the stack config inside the Pulumi program (``pulumi.Config``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi

from spark_streams.config import PROJECT, config_keys
from spark_streams.problems import InvalidInputError
from spark_streams.program import Inputs, load_inputs


def stack_values() -> dict[str, Any]:
    """Our config keys as plain values; ``secrets`` keeps only its keys readable."""
    values: dict[str, Any] = {}
    for key in config_keys():
        # The raw getter: pulumi.Config warns on reading a secret, and we only need its keys.
        raw = pulumi.runtime.get_config(f"{PROJECT}:{key}")
        if raw is None:
            continue
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    if isinstance(values.get("secrets"), dict):
        values["secrets"] = dict.fromkeys(values["secrets"], "[secret]")
    return values


def secret_values() -> pulumi.Output[dict[str, str]] | None:
    """The values of the ``secrets`` config, kept secret in state and output."""
    return pulumi.Config().get_secret_object("secrets")


def program_inputs(project_dir: Path) -> Inputs:
    """Validated inputs; a user mistake stops the program with the report and no traceback."""
    streams_dir = pulumi.Config().get("streamsDir")
    try:
        return load_inputs(
            project_dir,
            pulumi.get_stack(),
            stack_values(),
            project_dir / streams_dir if streams_dir else None,
        )
    except InvalidInputError as error:
        raise pulumi.RunError(error.report()) from None
