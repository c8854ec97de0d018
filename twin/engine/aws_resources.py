"""The AWS resources the program registers, each performed as AWS API calls (boto3) against the
twin's moto server, with the semantics of the real (Terraform-bridged) provider that the engine
relies on: which inputs it takes and defaults, which changes force a replacement, the physical
id, and the state that Read returns so that a refresh sees out-of-band changes and invents none.

A kind takes only the inputs listed in ``inputs``: a program that starts using another one is
refused in Check, so the twin never silently ignores a setting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from types import MappingProxyType
from typing import Any, ClassVar

import boto3
from botocore.exceptions import ClientError

from twin.engine.aws_checks import (
    RefusedError,
    bucket_name,
    bucket_policy,
    json_error,
    trust_policy,
)

Props = dict[str, Any]
# The engine's marker of a value not known yet (during preview).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
# Which inputs Check filled in itself (the autoname), as the Terraform bridge records them.
DEFAULTS = "__defaults"
_TO_API = {"id": "ID", "kmsMasterKeyId": "KMSMasterKeyID", "sseAlgorithm": "SSEAlgorithm"}
_FROM_API = {v: k for k, v in _TO_API.items()}


class ProviderError(Exception):
    """An error the engine shows for the resource, worded as the real provider words it."""


@dataclass
class Aws:
    region: str

    def client(self, service: str) -> Any:
        # Endpoint and credentials come from the plugin's environment (the twin's moto server).
        return boto3.client(service, region_name=self.region)

    @property
    def account(self) -> str:
        identity: dict[str, str] = self.client("sts").get_caller_identity()
        return identity["Account"]


def call(what: str, ident: str, client: Any, operation: str, **kwargs: Any) -> Any:
    """One API call; its error as the provider reports it (``creating S3 Bucket (x): ...``)."""
    try:
        return getattr(client, operation)(**kwargs)
    except ClientError as error:
        raise _error(what, ident, client, operation, error) from None


def _error(what: str, ident: str, client: Any, operation: str, error: ClientError) -> Exception:
    info = error.response.get("Error", {})
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    api = "".join(p.capitalize() for p in operation.split("_"))
    service = client.meta.service_model.service_id
    return ProviderError(
        f"{what} ({ident}): operation error {service}: {api}, https response error StatusCode: "
        f"{status}, {info.get('Code')}: {info.get('Message')}"
    )


def refused(what: str, ident: str, refusal: RefusedError) -> ProviderError:
    return ProviderError(f"{what} ({ident}): {refusal}")


def missing(error: ClientError, *codes: str) -> bool:
    return error.response.get("Error", {}).get("Code") in codes


def to_api(value: Any) -> Any:
    """Pulumi's camelCase properties as the AWS API's PascalCase fields (numbers as ints)."""
    if isinstance(value, dict):
        return {_TO_API.get(k, k[:1].upper() + k[1:]): to_api(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_api(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def from_api(value: Any) -> Any:
    if isinstance(value, dict):
        return {_FROM_API.get(k, k[:1].lower() + k[1:]): from_api(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_api(v) for v in value]
    return value


def same_json(a: Any, b: Any) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b)) if isinstance(a, str) else a == b
    except (json.JSONDecodeError, TypeError):
        return False


def kept_json(state: Props, key: str, live: Any) -> str:
    """A policy document as read: the state's own text when AWS holds the same document (AWS
    reorders and re-encodes it), else the document AWS holds."""
    text = live if isinstance(live, str) else json.dumps(live)
    return state[key] if key in state and same_json(state[key], text) else text


def differs(new: Any, old: Any) -> bool:
    """Whether a declared value differs from the state's: only what is declared counts (nested
    fields AWS adds on its own are not drift), an unknown value may differ."""
    if new == UNKNOWN:
        return True
    if isinstance(new, dict):
        if not isinstance(old, dict):
            return True
        return any(differs(v, old.get(k)) for k, v in new.items() if v is not None or k in old)
    if isinstance(new, list):
        if not isinstance(old, list) or len(new) != len(old):
            return True
        return any(differs(n, o) for n, o in zip(new, old, strict=True))
    return bool(new != old)


def autoname(name: str, seed: bytes, length: int = 7) -> str:
    """``<logical name>-<hex>``, deterministic per resource as the engine's random seed is."""
    return f"{name}-{hashlib.sha256(seed + name.encode()).hexdigest()[:length]}"


def known(value: Any) -> bool:
    return value is not None and value != UNKNOWN


class Kind:
    """One resource type: its inputs and their rules, and the API calls that perform it."""

    token: ClassVar[str]
    label: ClassVar[str]  # as the real provider names it in errors
    service: ClassVar[str]
    inputs: ClassVar[frozenset[str]]
    required: ClassVar[frozenset[str]] = frozenset()
    replace_on: ClassVar[frozenset[str]] = frozenset()
    name_field: ClassVar[str | None] = None
    json_fields: ClassVar[frozenset[str]] = frozenset()
    defaults: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    # Outputs AWS decides: unknown until the resource exists.
    computed: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, aws: Aws) -> None:
        self.aws = aws

    @property
    def client(self) -> Any:
        return self.aws.client(self.service)

    def problems(self, inputs: Props) -> list[tuple[str, str]]:
        """(property, reason) for inputs the real provider's Check refuses."""
        found = [
            (k, "is not an input the twin's aws stand-in performs")
            for k in inputs
            if k not in self.inputs and k != DEFAULTS
        ]
        found += [(k, "is required") for k in sorted(self.required) if k not in inputs]
        found += [
            (k, error)
            for k in sorted(self.json_fields)
            if isinstance(inputs.get(k), str)
            and known(inputs[k])
            and (error := json_error(inputs[k]))
        ]
        return found

    def same(self, key: str, new: Any, old: Any) -> bool:
        if key in self.json_fields and known(new):
            return same_json(new, old)
        return not differs(new, old)

    def planned(self, inputs: Props) -> Props:
        """The outputs a create will have, as a preview shows them."""
        return {**inputs, **dict.fromkeys(self.computed, UNKNOWN)}

    def create(self, inputs: Props) -> tuple[str, Props]:
        raise NotImplementedError

    def read(self, ident: str, state: Props) -> Props | None:
        """The resource as AWS holds it now, in the state's shape; None when it is gone."""
        raise NotImplementedError

    def update(self, ident: str, olds: Props, news: Props) -> Props:
        raise NotImplementedError

    def delete(self, ident: str, state: Props) -> None:
        raise NotImplementedError


def _tags(value: Any) -> dict[str, str]:
    return dict(value or {})


class Bucket(Kind):
    token = "aws:s3/bucket:Bucket"
    label = "S3 Bucket"
    service = "s3"
    inputs = frozenset({"bucket", "forceDestroy", "tags"})
    replace_on = frozenset({"bucket"})
    name_field = "bucket"
    defaults = MappingProxyType({"forceDestroy": False})
    computed = frozenset(
        {"arn", "bucketDomainName", "bucketRegionalDomainName", "region", "tagsAll"}
    )

    def _outputs(self, name: str, inputs: Props, tags: dict[str, str]) -> Props:
        region = self.aws.region
        out: Props = {
            "bucket": name,
            "forceDestroy": bool(inputs.get("forceDestroy")),
            "arn": f"arn:aws:s3:::{name}",
            "bucketDomainName": f"{name}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
            "region": region,
            "tagsAll": tags,
        }
        if "tags" in inputs or tags:
            out["tags"] = tags
        return out

    def create(self, inputs: Props) -> tuple[str, Props]:
        name = inputs["bucket"]
        if self.aws.region != "us-east-1" and (problem := bucket_name(name)):
            raise ProviderError(f"validating {self.label} ({name}) name: {problem}")
        location = {}
        if self.aws.region != "us-east-1":
            location = {"CreateBucketConfiguration": {"LocationConstraint": self.aws.region}}
        call(f"creating {self.label}", name, self.client, "create_bucket", Bucket=name, **location)
        tags = _tags(inputs.get("tags"))
        self._put_tags(name, tags)
        return name, self._outputs(name, inputs, tags)

    def _put_tags(self, name: str, tags: dict[str, str]) -> None:
        what = f"setting {self.label} ({name}) tags"
        if tags:
            tag_set = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
            call(
                what,
                name,
                self.client,
                "put_bucket_tagging",
                Bucket=name,
                Tagging={"TagSet": tag_set},
            )
        else:
            call(what, name, self.client, "delete_bucket_tagging", Bucket=name)

    def read(self, ident: str, state: Props) -> Props | None:
        try:
            self.client.head_bucket(Bucket=ident)
        except ClientError as error:
            if missing(error, "404", "NoSuchBucket"):
                return None
            raise _error(
                f"reading {self.label}", ident, self.client, "head_bucket", error
            ) from None
        try:
            tag_set = self.client.get_bucket_tagging(Bucket=ident)["TagSet"]
        except ClientError as error:
            if not missing(error, "NoSuchTagSet"):
                raise _error(
                    f"reading {self.label}", ident, self.client, "get_bucket_tagging", error
                ) from None
            tag_set = []
        tags = {t["Key"]: t["Value"] for t in tag_set}
        return self._outputs(ident, state, tags)

    def update(self, ident: str, olds: Props, news: Props) -> Props:
        tags = _tags(news.get("tags"))
        if tags != _tags(olds.get("tags")):
            self._put_tags(ident, tags)
        return self._outputs(ident, news, tags)

    def delete(self, ident: str, state: Props) -> None:
        if state.get("forceDestroy"):
            self._empty(ident)
        call(f"deleting {self.label}", ident, self.client, "delete_bucket", Bucket=ident)

    def _empty(self, ident: str) -> None:
        pages = self.client.get_paginator("list_object_versions").paginate(Bucket=ident)
        for page in pages:
            objects = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            if objects:
                self.client.delete_objects(Bucket=ident, Delete={"Objects": objects})


class _BucketSetting(Kind):
    """A bucket's sub-resource (versioning, encryption ...): its id is the bucket's name."""

    service = "s3"
    replace_on = frozenset({"bucket", "expectedBucketOwner"})
    required = frozenset({"bucket"})
    # The setting's own inputs (beside `bucket`) and how each is put, got and deleted.
    put: ClassVar[str]
    get: ClassVar[str]
    remove: ClassVar[str | None]
    absent: ClassVar[tuple[str, ...]]  # error codes of a bucket without the setting

    def to_request(self, inputs: Props) -> Props:
        raise NotImplementedError

    def from_response(self, response: Props) -> Props:
        raise NotImplementedError

    def create(self, inputs: Props) -> tuple[str, Props]:
        bucket = inputs["bucket"]
        self._put(f"creating {self.label}", bucket, inputs)
        return bucket, self._state(bucket, inputs)

    def _put(self, what: str, bucket: str, inputs: Props) -> None:
        call(what, bucket, self.client, self.put, Bucket=bucket, **self.to_request(inputs))

    def _state(self, bucket: str, values: Props) -> Props:
        return {"bucket": bucket, **{k: v for k, v in values.items() if k != "bucket"}}

    def read(self, ident: str, state: Props) -> Props | None:
        try:
            response = getattr(self.client, self.get)(Bucket=ident)
        except ClientError as error:
            if missing(error, "NoSuchBucket", *self.absent):
                return None
            raise _error(f"reading {self.label}", ident, self.client, self.get, error) from None
        return self._state(ident, self.from_response(response))

    def update(self, ident: str, olds: Props, news: Props) -> Props:
        self._put(f"updating {self.label}", ident, news)
        return self._state(ident, news)

    def delete(self, ident: str, state: Props) -> None:
        if self.remove:
            call(f"deleting {self.label}", ident, self.client, self.remove, Bucket=ident)


class BucketVersioning(_BucketSetting):
    token = "aws:s3/bucketVersioning:BucketVersioning"
    label = "S3 Bucket Versioning"
    inputs = frozenset({"bucket", "versioningConfiguration"})
    required = frozenset({"bucket", "versioningConfiguration"})
    put, get, remove, absent = "put_bucket_versioning", "get_bucket_versioning", None, ()

    def to_request(self, inputs: Props) -> Props:
        return {"VersioningConfiguration": to_api(inputs["versioningConfiguration"])}

    def from_response(self, response: Props) -> Props:
        return {"versioningConfiguration": {"status": response.get("Status", "Disabled")}}

    def delete(self, ident: str, state: Props) -> None:
        # A bucket's versioning cannot be turned off, only suspended: what the provider does.
        status = state.get("versioningConfiguration", {}).get("status")
        if status == "Enabled":
            call(
                f"deleting {self.label}",
                ident,
                self.client,
                self.put,
                Bucket=ident,
                VersioningConfiguration={"Status": "Suspended"},
            )


class BucketServerSideEncryptionConfiguration(_BucketSetting):
    token = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    label = "S3 Bucket Server-side Encryption Configuration"
    inputs = frozenset({"bucket", "rules"})
    required = frozenset({"bucket", "rules"})
    put, get, remove = "put_bucket_encryption", "get_bucket_encryption", "delete_bucket_encryption"
    absent = ("ServerSideEncryptionConfigurationNotFoundError",)

    def to_request(self, inputs: Props) -> Props:
        return {"ServerSideEncryptionConfiguration": {"Rules": to_api(inputs["rules"])}}

    def from_response(self, response: Props) -> Props:
        return {"rules": from_api(response["ServerSideEncryptionConfiguration"]["Rules"])}


class BucketPublicAccessBlock(_BucketSetting):
    token = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
    label = "S3 Bucket Public Access Block"
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    inputs = frozenset({"bucket", *flags})
    defaults = MappingProxyType(dict.fromkeys(flags, False))
    put, get, remove = (
        "put_public_access_block",
        "get_public_access_block",
        "delete_public_access_block",
    )
    absent = ("NoSuchPublicAccessBlockConfiguration",)

    def to_request(self, inputs: Props) -> Props:
        return {"PublicAccessBlockConfiguration": to_api({k: inputs[k] for k in self.flags})}

    def from_response(self, response: Props) -> Props:
        found: Props = from_api(response["PublicAccessBlockConfiguration"])
        return {k: bool(found.get(k)) for k in self.flags}


class BucketOwnershipControls(_BucketSetting):
    token = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
    label = "S3 Bucket Ownership Controls"
    inputs = frozenset({"bucket", "rule"})
    required = frozenset({"bucket", "rule"})
    put, get, remove = (
        "put_bucket_ownership_controls",
        "get_bucket_ownership_controls",
        ("delete_bucket_ownership_controls"),
    )
    absent = ("OwnershipControlsNotFoundError",)

    def to_request(self, inputs: Props) -> Props:
        return {"OwnershipControls": {"Rules": [to_api(inputs["rule"])]}}

    def from_response(self, response: Props) -> Props:
        (rule,) = response["OwnershipControls"]["Rules"]
        return {"rule": from_api(rule)}


class BucketLifecycleConfiguration(_BucketSetting):
    token = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    label = "S3 Bucket Lifecycle Configuration"
    inputs = frozenset({"bucket", "rules"})
    required = frozenset({"bucket", "rules"})
    put, get, remove = (
        "put_bucket_lifecycle_configuration",
        ("get_bucket_lifecycle_configuration"),
        "delete_bucket_lifecycle",
    )
    absent = ("NoSuchLifecycleConfiguration",)

    def to_request(self, inputs: Props) -> Props:
        return {"LifecycleConfiguration": {"Rules": to_api(inputs["rules"])}}

    def from_response(self, response: Props) -> Props:
        return {"rules": from_api(response["Rules"])}


class BucketPolicy(_BucketSetting):
    token = "aws:s3/bucketPolicy:BucketPolicy"
    label = "S3 Bucket Policy"
    inputs = frozenset({"bucket", "policy"})
    required = frozenset({"bucket", "policy"})
    json_fields = frozenset({"policy"})
    put, get, remove = "put_bucket_policy", "get_bucket_policy", "delete_bucket_policy"
    absent = ("NoSuchBucketPolicy",)

    def to_request(self, inputs: Props) -> Props:
        return {"Policy": inputs["policy"]}

    def from_response(self, response: Props) -> Props:
        return {"policy": response["Policy"]}

    def _put(self, what: str, bucket: str, inputs: Props) -> None:
        try:
            bucket_policy(bucket, inputs["policy"], self._blocks_public_policy(bucket))
        except RefusedError as refusal:
            raise refused(what, bucket, refusal) from None
        super()._put(what, bucket, inputs)

    def _blocks_public_policy(self, bucket: str) -> bool:
        try:
            block = self.client.get_public_access_block(Bucket=bucket)
        except ClientError:
            return False
        return bool(block["PublicAccessBlockConfiguration"].get("BlockPublicPolicy"))

    def read(self, ident: str, state: Props) -> Props | None:
        found = super().read(ident, state)
        if found is not None:
            found["policy"] = kept_json(state, "policy", found["policy"])
        return found


class Role(Kind):
    token = "aws:iam/role:Role"
    label = "IAM Role"
    service = "iam"
    inputs = frozenset(
        {
            "name",
            "assumeRolePolicy",
            "description",
            "tags",
            "path",
            "maxSessionDuration",
            "forceDetachPolicies",
        }
    )
    required = frozenset({"assumeRolePolicy"})
    replace_on = frozenset({"name", "path"})
    name_field = "name"
    json_fields = frozenset({"assumeRolePolicy"})
    computed = frozenset({"arn", "uniqueId", "createDate", "tagsAll"})
    defaults = MappingProxyType(
        {"path": "/", "maxSessionDuration": 3600, "forceDetachPolicies": False}
    )

    def _check_trust(self, what: str, name: str, policy: str) -> None:
        iam = self.client

        def exists(arn: str) -> bool:
            try:
                iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
            except ClientError:
                return False
            return True

        try:
            trust_policy(policy, exists)
        except RefusedError as refusal:
            raise refused(what, name, refusal) from None

    def _state(self, role: Props, state: Props, tags: dict[str, str]) -> Props:
        out: Props = {
            "name": role["RoleName"],
            "arn": role["Arn"],
            "uniqueId": role["RoleId"],
            "createDate": role["CreateDate"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "path": role["Path"],
            "maxSessionDuration": role.get("MaxSessionDuration", 3600),
            "assumeRolePolicy": kept_json(
                state, "assumeRolePolicy", role["AssumeRolePolicyDocument"]
            ),
            "forceDetachPolicies": bool(state.get("forceDetachPolicies")),
            "tagsAll": tags,
        }
        if role.get("Description") is not None:
            out["description"] = role["Description"]
        if "tags" in state or tags:
            out["tags"] = tags
        return out

    def create(self, inputs: Props) -> tuple[str, Props]:
        name = inputs["name"]
        what = f"creating {self.label}"
        self._check_trust(what, name, inputs["assumeRolePolicy"])
        tags = _tags(inputs.get("tags"))
        optional = {"Description": inputs["description"]} if inputs.get("description") else {}
        if tags:
            optional["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        role = call(
            what,
            name,
            self.client,
            "create_role",
            RoleName=name,
            AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
            Path=inputs["path"],
            MaxSessionDuration=int(inputs["maxSessionDuration"]),
            **optional,
        )["Role"]
        return name, self._state(role, inputs, tags)

    def read(self, ident: str, state: Props) -> Props | None:
        try:
            role = self.client.get_role(RoleName=ident)["Role"]
        except ClientError as error:
            if missing(error, "NoSuchEntity"):
                return None
            raise _error(f"reading {self.label}", ident, self.client, "get_role", error) from None
        tags = {t["Key"]: t["Value"] for t in role.get("Tags", [])}
        return self._state(role, state, tags)

    def update(self, ident: str, olds: Props, news: Props) -> Props:
        what = f"updating {self.label}"
        iam = self.client
        if not same_json(news["assumeRolePolicy"], olds.get("assumeRolePolicy")):
            self._check_trust(what, ident, news["assumeRolePolicy"])
            call(
                what,
                ident,
                iam,
                "update_assume_role_policy",
                RoleName=ident,
                PolicyDocument=news["assumeRolePolicy"],
            )
        if (news.get("description") or "") != (olds.get("description") or "") or (
            news["maxSessionDuration"] != olds.get("maxSessionDuration")
        ):
            call(
                what,
                ident,
                iam,
                "update_role",
                RoleName=ident,
                Description=news.get("description") or "",
                MaxSessionDuration=int(news["maxSessionDuration"]),
            )
        old_tags, new_tags = _tags(olds.get("tags")), _tags(news.get("tags"))
        if gone := sorted(set(old_tags) - set(new_tags)):
            call(what, ident, iam, "untag_role", RoleName=ident, TagKeys=gone)
        if new_tags and new_tags != old_tags:
            call(
                what,
                ident,
                iam,
                "tag_role",
                RoleName=ident,
                Tags=[{"Key": k, "Value": v} for k, v in sorted(new_tags.items())],
            )
        found = self.read(ident, news)
        if found is None:
            raise ProviderError(f"{what} ({ident}): the role is gone")
        return found

    def delete(self, ident: str, state: Props) -> None:
        iam = self.client
        if state.get("forceDetachPolicies"):
            for name in iam.list_role_policies(RoleName=ident)["PolicyNames"]:
                iam.delete_role_policy(RoleName=ident, PolicyName=name)
            for policy in iam.list_attached_role_policies(RoleName=ident)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=ident, PolicyArn=policy["PolicyArn"])
        call(f"deleting {self.label}", ident, iam, "delete_role", RoleName=ident)


class RolePolicy(Kind):
    token = "aws:iam/rolePolicy:RolePolicy"
    label = "IAM Role Policy"
    service = "iam"
    inputs = frozenset({"name", "role", "policy"})
    required = frozenset({"role", "policy"})
    replace_on = frozenset({"name", "role"})
    name_field = "name"
    json_fields = frozenset({"policy"})

    def create(self, inputs: Props) -> tuple[str, Props]:
        ident = f"{inputs['role']}:{inputs['name']}"
        self._put(f"creating {self.label}", ident, inputs)
        return ident, {k: inputs[k] for k in ("name", "role", "policy")}

    def _put(self, what: str, ident: str, inputs: Props) -> None:
        call(
            what,
            ident,
            self.client,
            "put_role_policy",
            RoleName=inputs["role"],
            PolicyName=inputs["name"],
            PolicyDocument=inputs["policy"],
        )

    def read(self, ident: str, state: Props) -> Props | None:
        role, _, name = ident.partition(":")
        try:
            found = self.client.get_role_policy(RoleName=role, PolicyName=name)
        except ClientError as error:
            if missing(error, "NoSuchEntity"):
                return None
            raise _error(
                f"reading {self.label}", ident, self.client, "get_role_policy", error
            ) from None
        return {
            "name": name,
            "role": role,
            "policy": kept_json(state, "policy", found["PolicyDocument"]),
        }

    def update(self, ident: str, olds: Props, news: Props) -> Props:
        self._put(f"updating {self.label}", ident, news)
        return {k: news[k] for k in ("name", "role", "policy")}

    def delete(self, ident: str, state: Props) -> None:
        call(
            f"deleting {self.label}",
            ident,
            self.client,
            "delete_role_policy",
            RoleName=state["role"],
            PolicyName=state["name"],
        )


class Key(Kind):
    token = "aws:kms/key:Key"
    label = "KMS Key"
    service = "kms"
    inputs = frozenset(
        {
            "description",
            "enableKeyRotation",
            "deletionWindowInDays",
            "keyUsage",
            "customerMasterKeySpec",
            "isEnabled",
            "tags",
        }
    )
    replace_on = frozenset({"keyUsage", "customerMasterKeySpec"})
    computed = frozenset({"arn", "keyId", "policy", "multiRegion", "tagsAll"})
    defaults = MappingProxyType(
        {
            "enableKeyRotation": False,
            "deletionWindowInDays": 30,
            "keyUsage": "ENCRYPT_DECRYPT",
            "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "isEnabled": True,
        }
    )

    def _state(self, key_id: str, state: Props) -> Props | None:
        kms = self.client
        try:
            meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        except ClientError as error:
            if missing(error, "NotFoundException"):
                return None
            raise _error(f"reading {self.label}", key_id, kms, "describe_key", error) from None
        if meta["KeyState"] in ("PendingDeletion", "PendingReplicaDeletion"):
            return None
        rotation = kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
        policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}
        out: Props = {
            "arn": meta["Arn"],
            "keyId": meta["KeyId"],
            "description": meta.get("Description", ""),
            "enableKeyRotation": bool(rotation),
            "deletionWindowInDays": state.get("deletionWindowInDays", 30),
            "keyUsage": meta["KeyUsage"],
            "customerMasterKeySpec": meta.get("KeySpec", meta.get("CustomerMasterKeySpec")),
            "isEnabled": bool(meta["Enabled"]),
            "multiRegion": bool(meta.get("MultiRegion")),
            "policy": kept_json(state, "policy", policy),
            "tagsAll": tags,
        }
        if "tags" in state or tags:
            out["tags"] = tags
        return out

    def create(self, inputs: Props) -> tuple[str, Props]:
        kms = self.client
        what = f"creating {self.label}"
        tags = [{"TagKey": k, "TagValue": v} for k, v in sorted(_tags(inputs.get("tags")).items())]
        meta = call(
            what,
            "",
            kms,
            "create_key",
            Description=inputs.get("description", ""),
            KeyUsage=inputs["keyUsage"],
            KeySpec=inputs["customerMasterKeySpec"],
            Tags=tags,
        )["KeyMetadata"]
        key_id = meta["KeyId"]
        self._settings(what, key_id, {}, inputs)
        state = self._state(key_id, inputs)
        assert state is not None
        return key_id, state

    def _settings(self, what: str, key_id: str, olds: Props, news: Props) -> None:
        kms = self.client
        if bool(news["enableKeyRotation"]) != bool(olds.get("enableKeyRotation")):
            rotate = "enable_key_rotation" if news["enableKeyRotation"] else "disable_key_rotation"
            call(what, key_id, kms, rotate, KeyId=key_id)
        if bool(news["isEnabled"]) != bool(olds.get("isEnabled", True)):
            call(
                what,
                key_id,
                kms,
                "enable_key" if news["isEnabled"] else "disable_key",
                KeyId=key_id,
            )

    def read(self, ident: str, state: Props) -> Props | None:
        return self._state(ident, state)

    def update(self, ident: str, olds: Props, news: Props) -> Props:
        what = f"updating {self.label}"
        if news.get("description", "") != olds.get("description", ""):
            call(
                what,
                ident,
                self.client,
                "update_key_description",
                KeyId=ident,
                Description=news.get("description", ""),
            )
        self._settings(what, ident, olds, news)
        state = self._state(ident, news)
        if state is None:
            raise ProviderError(f"{what} ({ident}): the key is gone")
        return state

    def delete(self, ident: str, state: Props) -> None:
        call(
            f"deleting {self.label}",
            ident,
            self.client,
            "schedule_key_deletion",
            KeyId=ident,
            PendingWindowInDays=int(state.get("deletionWindowInDays", 30)),
        )


KINDS: dict[str, Callable[[Aws], Kind]] = {
    kind.token: kind
    for kind in (
        Bucket,
        BucketVersioning,
        BucketServerSideEncryptionConfiguration,
        BucketPublicAccessBlock,
        BucketOwnershipControls,
        BucketLifecycleConfiguration,
        BucketPolicy,
        Role,
        RolePolicy,
        Key,
    )
}
