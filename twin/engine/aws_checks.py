"""What AWS refuses and the local moto server lets through, checked the way AWS (or the real
provider, before it calls AWS) checks it. Each function returns the error AWS would answer, or
None. The list is in docs/twin.md; everything else is moto's own answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

_BUCKET_NAME = re.compile(r"^[0-9a-z.-]+$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_VERSIONS = {"2012-10-17", "2008-10-17"}


class RefusedError(Exception):
    """An AWS API error: its code and message, as the provider reports them."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def bucket_name(name: str) -> str | None:
    """The real provider's check before CreateBucket outside us-east-1 (AWS's naming rules)."""
    if not 3 <= len(name) <= 63:
        return f"{name!r} must contain between 3 and 63 characters"
    if not _BUCKET_NAME.match(name):
        return f"only lowercase alphanumeric characters and hyphens allowed in {name!r}"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return f"{name!r} must begin and end with a letter or number"
    if ".." in name or _IP_ADDRESS.match(name):
        return f"{name!r} must not contain two adjacent periods nor be formatted as an IP address"
    return None


def json_error(text: str) -> str | None:
    """The real provider's Check of a policy argument: it must be JSON."""
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return f"contains an invalid JSON: {error}"
    return None


def _statements(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict) or document.get("Version") not in _VERSIONS:
        raise RefusedError("MalformedPolicy", "Policy has an invalid or missing Version")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise RefusedError("MalformedPolicy", "Missing required field Statement")
    if not all(isinstance(s, dict) for s in statements):
        raise RefusedError("MalformedPolicy", "Statement is not an object")
    return statements


def _values(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def _one_of(statement: dict[str, Any], fields: Iterable[str], code: str) -> str:
    present = [f for f in fields if f in statement]
    if len(present) != 1:
        raise RefusedError(code, f"Statement must contain exactly one of {' or '.join(fields)}")
    return present[0]


def bucket_policy(bucket: str, text: str, block_public_policy: bool) -> None:
    """S3's PutBucketPolicy: a well-formed policy about this bucket's own resources, and not a
    public one while the bucket's public access block says BlockPublicPolicy."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise RefusedError(
            "MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'"
        ) from None
    arn = f"arn:aws:s3:::{bucket}"
    for statement in _statements(document):
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise RefusedError("MalformedPolicy", "Invalid effect")
        _one_of(statement, ("Principal", "NotPrincipal"), "MalformedPolicy")
        action = _one_of(statement, ("Action", "NotAction"), "MalformedPolicy")
        if not all(a == "*" or a.startswith("s3:") for a in _values(statement[action])):
            raise RefusedError("MalformedPolicy", "Policy has invalid action")
        resource = _one_of(statement, ("Resource", "NotResource"), "MalformedPolicy")
        if not all(r == arn or r.startswith(f"{arn}/") for r in _values(statement[resource])):
            raise RefusedError("MalformedPolicy", "Policy has invalid resource")
        public = statement.get("Principal") in ("*", {"AWS": "*"}) and "Condition" not in statement
        if block_public_policy and statement["Effect"] == "Allow" and public:
            raise RefusedError("AccessDenied", "Access Denied")


def trust_policy(text: str, oidc_provider_exists: Callable[[str], bool]) -> None:
    """IAM's check of a role's trust policy: principals, no resources, and federated
    principals that are identity providers of the account."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise RefusedError("MalformedPolicyDocument", "This policy contains invalid Json") from None
    try:
        statements = _statements(document)
    except RefusedError as refusal:
        raise RefusedError("MalformedPolicyDocument", str(refusal).split(": ", 1)[1]) from None
    for statement in statements:
        if "Resource" in statement or "NotResource" in statement:
            raise RefusedError("MalformedPolicyDocument", "Has prohibited field Resource")
        principal = statement.get("Principal")
        if not isinstance(principal, dict | str):
            raise RefusedError(
                "MalformedPolicyDocument", "AssumeRolepolicy contains an invalid principal"
            )
        actions = _values(statement.get("Action"))
        if not actions or not all(a.startswith("sts:") for a in actions):
            raise RefusedError(
                "MalformedPolicyDocument", "Trust policy actions must be sts actions"
            )
        federated = principal.get("Federated", []) if isinstance(principal, dict) else []
        for arn in _values(federated):
            if ":oidc-provider/" in arn and not oidc_provider_exists(arn):
                raise RefusedError(
                    "MalformedPolicyDocument", f'Invalid principal in policy: "Federated":"{arn}"'
                )
