"""Reading the stack config inside the Pulumi program (``pulumi.Config``)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from spark_streams.config import PROJECT, SECRET_PLACEHOLDER, check_secrets_encrypted
from spark_streams.problems import InvalidInputError
from spark_streams.program import Inputs, load_inputs


def stack_values() -> dict[str, Any]:
    """Our config keys as plain values; ``secrets`` keeps only its keys readable."""
    prefix = f"{PROJECT}:"
    # Every key of ours that is set, known or not, so that a typo is reported, not ignored.
    keys = {k for k in (*runtime_config.CONFIG.get(), *runtime_config.get_config_env())}
    values: dict[str, Any] = {}
    for key in sorted(k for k in keys if k.startswith(prefix)):
        # The raw getter: pulumi.Config warns on reading a secret, and we only need its keys.
        values[key.removeprefix(prefix)] = config_value(runtime_config.get_config(key))
    # Encrypted (set with --secret): only its keys matter. Plain: left as it is, to be refused.
    if isinstance(values.get("secrets"), dict) and runtime_config.is_config_secret(
        f"{prefix}secrets"
    ):
        values["secrets"] = dict.fromkeys(values["secrets"], SECRET_PLACEHOLDER)
    return values


def config_value(raw: str) -> Any:
    """A config value as the program reads it: objects and lists arrive as JSON text.

    Every other key of ours is a string, so ``clusterName: "1234"`` stays the string "1234".
    """
    if raw.startswith(("{", "[")):
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(raw)
    return raw


def secret_values() -> pulumi.Output[dict[str, str]] | None:
    """The values of the ``secrets`` config, kept secret in state and output."""
    return pulumi.Config().get_secret_object("secrets")


def program_inputs(project_dir: Path) -> Inputs:
    """Validated inputs; a user mistake stops the program with the report and no traceback."""
    streams_dir = pulumi.Config().get("streamsDir")
    stack = pulumi.get_stack()
    try:
        check_secrets_encrypted(project_dir, stack)
        return load_inputs(
            project_dir,
            stack,
            stack_values(),
            project_dir / streams_dir if streams_dir else None,
        )
    except InvalidInputError as error:
        raise pulumi.RunError(error.report()) from None
