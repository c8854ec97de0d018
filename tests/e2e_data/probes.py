"""Plain S3 requests (boto3) for what a JVM per try would make too slow: buckets as planned, the
state of checkpoints and sinks, and every access a stream's credentials must or must not get.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tests.e2e_data.plan import BucketPlan, S3Path, StackPlan, StreamPlan
from tests.e2e_data.servers import KMS_KEY

PROBE = "e2e-probe"
SEED = "e2e-seed/part-00000.txt"
OUTSIDE = "e2e-outside/seed.txt"  # in the lake, outside anything a stream declares
MIB = 1024 * 1024


# --- buckets --------------------------------------------------------------------------------
def create_bucket(admin: Any, bucket: BucketPlan, region: str) -> dict[str, Any]:
    """The bucket as planned, as far as MinIO supports it; what it refused is said."""
    done: dict[str, Any] = {"bucket": bucket.name}
    admin.create_bucket(
        Bucket=bucket.name, CreateBucketConfiguration={"LocationConstraint": region}
    )
    if bucket.versioning:
        admin.put_bucket_versioning(
            Bucket=bucket.name, VersioningConfiguration={"Status": bucket.versioning}
        )
        done["versioning"] = bucket.versioning
    if bucket.encryption:
        default = bucket.encryption["applyServerSideEncryptionByDefault"]
        algorithm = default["sseAlgorithm"]
        rule: dict[str, Any] = {"SSEAlgorithm": algorithm}
        if algorithm == "aws:kms":
            # The stack's key is an AWS KMS key; MinIO has one key of its own.
            rule["KMSMasterKeyID"] = KMS_KEY
        admin.put_bucket_encryption(
            Bucket=bucket.name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": rule}]
            },
        )
        done["encryption"] = algorithm + (f" (MinIO key {KMS_KEY})" if "kms" in algorithm else "")
        done["bucket_key"] = "not supported by MinIO"
    if bucket.lifecycle:
        admin.put_bucket_lifecycle_configuration(
            Bucket=bucket.name,
            LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in bucket.lifecycle]},
        )
        done["lifecycle"] = [r["id"] for r in bucket.lifecycle]
    if bucket.policy:
        admin.put_bucket_policy(Bucket=bucket.name, Policy=json.dumps(bucket.policy))
        done["bucket_policy"] = [s.get("Sid") for s in bucket.policy["Statement"]]
    done["not_supported"] = ["public access block", "object ownership (MinIO has no ACLs)"]
    return done


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """Pulumi's camelCase rule as the S3 API spells it."""
    result: dict[str, Any] = {
        "ID": rule["id"],
        "Status": rule["status"],
        "Filter": {"Prefix": rule.get("filter", {}).get("prefix", "")},
    }
    if "expiration" in rule:
        result["Expiration"] = {"Days": rule["expiration"]["days"]}
    if "noncurrentVersionExpiration" in rule:
        days = rule["noncurrentVersionExpiration"]["noncurrentDays"]
        result["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
    if "abortIncompleteMultipartUpload" in rule:
        days = rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"]
        result["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return result


def seed_inputs(admin: Any, plan: StackPlan) -> None:
    """An object under each declared input no stream writes, and one outside everything."""
    sinks = [s.sink for s in plan.streams]
    for stream in plan.streams:
        for read in stream.reads:
            if not any(within(read, sink) or within(sink, read) for sink in sinks):
                admin.put_object(Bucket=read.bucket, Key=read.key(SEED), Body=b"seed\n")
    for bucket in {s.sink.bucket for s in plan.streams}:
        admin.put_object(Bucket=bucket, Key=OUTSIDE, Body=b"outside\n")


def within(inner: S3Path, outer: S3Path) -> bool:
    return inner.bucket == outer.bucket and inner.prefix.startswith(outer.prefix)


# --- state ----------------------------------------------------------------------------------
def keys(admin: Any, path: S3Path) -> list[str]:
    found: list[str] = []
    for page in admin.get_paginator("list_objects_v2").paginate(
        Bucket=path.bucket, Prefix=path.prefix
    ):
        found += [o["Key"] for o in page.get("Contents", [])]
    return found


def exists(admin: Any, bucket: str, key: str) -> bool:
    try:
        admin.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def _read(admin: Any, bucket: str, key: str) -> str:
    body: str = admin.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return body


def _batches(names: list[str], directory: str) -> list[int]:
    ids = []
    for name in names:
        rest = name.partition(directory)[2]
        if rest.isdigit():
            ids.append(int(rest))
    return sorted(ids)


def checkpoint(admin: Any, path: S3Path) -> dict[str, Any]:
    """Batches in the offset and commit logs; the frozen conf and the source offsets."""
    names = keys(admin, path)
    offsets = _batches(names, f"{path.prefix}offsets/")
    commits = _batches(names, f"{path.prefix}commits/")
    result: dict[str, Any] = {
        "offsets": offsets,
        "commits": commits,
        "objects": len(names),
        "state_files": sorted({n.rpartition(".")[2] for n in names if "/state/" in n and "." in n}),
        "delete_markers": _delete_markers(admin, path),
    }
    if offsets:
        first = _read(admin, path.bucket, path.key(f"offsets/{offsets[0]}")).splitlines()
        last = _read(admin, path.bucket, path.key(f"offsets/{offsets[-1]}")).splitlines()
        result["first_source_offset"] = json.loads(first[2]) if len(first) > 2 else None
        result["conf"] = json.loads(last[1]).get("conf", {})
    return result


def _delete_markers(admin: Any, path: S3Path) -> int:
    """What deletes leave behind in a versioned bucket."""
    count = 0
    for page in admin.get_paginator("list_object_versions").paginate(
        Bucket=path.bucket, Prefix=path.prefix
    ):
        count += len(page.get("DeleteMarkers", []))
    return count


def sink_files(admin: Any, sink: S3Path) -> tuple[set[str], set[str]]:
    """Parquet files in the sink, and those its `_spark_metadata` log commits."""
    names = keys(admin, sink)
    files = {n.rpartition("/")[2] for n in names if n.endswith(".parquet")}
    committed: set[str] = set()
    for name in names:
        if "/_spark_metadata/" in name and not name.endswith("/"):
            for line in _read(admin, sink.bucket, name).splitlines()[1:]:
                committed.add(json.loads(line)["path"].rpartition("/")[2])
    return files, committed


def half_written(admin: Any, stream: StreamPlan, batch: int) -> dict[str, Any] | None:
    state = checkpoint(admin, stream.checkpoint)
    if batch not in state["offsets"] or batch in state["commits"]:
        return None
    files, committed = sink_files(admin, stream.sink)
    orphans = sorted(files - committed)
    if not orphans:
        return None
    return {"offsets": state["offsets"], "commits": state["commits"], "uncommitted_files": orphans}


def completed_applications(
    admin: Any, event_log: S3Path, *, in_progress: bool = False
) -> list[str]:
    """Rolling event logs of applications that ended (their status file lost `.inprogress`),
    or of those that did not."""
    apps = []
    for name in keys(admin, event_log):
        leaf = name.rpartition("/")[2]
        if leaf.startswith("appstatus_") and leaf.endswith(".inprogress") == in_progress:
            apps.append(leaf.removeprefix("appstatus_").removesuffix(".inprogress"))
    return sorted(apps)


def can_list(client: Any, path: S3Path) -> bool:
    try:
        client.list_objects_v2(Bucket=path.bucket, Prefix=path.prefix, MaxKeys=1)
    except ClientError:
        return False
    return True


# --- what a stream's credentials may do -----------------------------------------------------
@dataclass(frozen=True)
class Probe:
    action: str
    bucket: str
    key: str
    whose: str  # "own", another stream's name, "declared input", "outside"
    expect: str  # "allowed" or "denied"
    outcome: str

    @property
    def held(self) -> bool:
        return self.expect == self.outcome


def _outcome(call: Any) -> str:
    try:
        response = call()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        return "denied" if code in ("AccessDenied", "403") else f"error {code}"
    errors = response.get("Errors") if isinstance(response, dict) else None
    if errors:  # DeleteObjects answers 200 and refuses per key
        codes = {e.get("Code") for e in errors}
        return "denied" if codes == {"AccessDenied"} else f"error {sorted(codes)}"
    return "allowed"


def _request(client: Any, action: str, bucket: str, key: str) -> Any:
    """One S3 request; ``key`` is the prefix for a listing."""
    if action == "GetObject":
        return client.get_object(Bucket=bucket, Key=key)
    if action == "PutObject":
        return client.put_object(Bucket=bucket, Key=key, Body=b"x")
    if action == "DeleteObject":
        return client.delete_object(Bucket=bucket, Key=key)
    if action == "DeleteObjects":
        return client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key}]})
    if action == "ListObjectsV2":
        return client.list_objects_v2(Bucket=bucket, Prefix=key)
    if action == "ListObjectsV2 (delimiter /)":
        return client.list_objects_v2(Bucket=bucket, Prefix=key, Delimiter="/")
    raise ValueError(action)


def probe_all(client: Any, admin: Any, plan: StackPlan, stream: StreamPlan) -> list[Probe]:
    """Every request the stream's grant must allow, and every one around it it must not."""
    probes: list[Probe] = []

    def probe(action: str, bucket: str, key: str, whose: str, allowed: bool) -> None:
        outcome = _outcome(lambda: _request(client, action, bucket, key))
        probes.append(
            Probe(action, bucket, key, whose, "allowed" if allowed else "denied", outcome)
        )

    for own in stream.own:
        key = own.key(PROBE)
        for action in ("PutObject", "GetObject", "DeleteObject"):
            probe(action, own.bucket, key, "own", True)
        probe("ListObjectsV2", own.bucket, own.prefix, "own", True)
        # Its prefix without the slash is a string prefix of a neighbour's ("orders" of
        # "orders-eu"): listing it would show their keys, writing under it is theirs.
        bare = own.prefix.rstrip("/")
        probe("ListObjectsV2", own.bucket, bare, "name-prefix neighbours", False)
        probe("PutObject", own.bucket, f"{bare}x/{PROBE}", "a name-prefix neighbour", False)
    probes += _multipart(client, stream.sink)

    for other in plan.streams:
        if other.identity == stream.identity:
            continue
        for path in other.own:
            readable = any(within(path, r) for r in stream.reads)
            for key in [k for k in keys(admin, path) if not k.endswith("/")][:1]:
                probe("GetObject", path.bucket, key, other.name, readable)
                probe("DeleteObject", path.bucket, key, other.name, False)
                probe("DeleteObjects", path.bucket, key, other.name, False)
            probe("ListObjectsV2", path.bucket, path.prefix, other.name, readable)
            probe(
                "PutObject", path.bucket, path.key(f"{PROBE}-by-{stream.name}"), other.name, False
            )

    sinks = [s.sink for s in plan.streams]
    for read in stream.reads:
        if any(within(read, s) or within(s, read) for s in sinks):
            continue  # another stream's sink: probed above
        probe("GetObject", read.bucket, read.key(SEED), "declared input", True)
        probe("ListObjectsV2", read.bucket, read.prefix, "declared input", True)
        probe("PutObject", read.bucket, read.key(PROBE), "declared input", False)

    lake = stream.sink.bucket
    top = stream.sink.prefix.split("/")[0] + "/"
    probe("GetObject", lake, OUTSIDE, "outside", False)
    probe("ListObjectsV2", lake, "", "outside", False)
    probe("ListObjectsV2", lake, top, "outside", False)
    probe("ListObjectsV2 (delimiter /)", lake, top, "outside", False)
    return probes


def _multipart(client: Any, sink: S3Path) -> list[Probe]:
    """A file large enough for a multipart upload, as S3A writes one, completed and aborted."""
    key = sink.key(f"{PROBE}-multipart")
    outcomes: list[Probe] = []

    def step(action: str, call: Any) -> Any:
        result: dict[str, Any] = {}

        def run() -> Any:
            result["value"] = call()
            return result["value"]

        outcomes.append(Probe(action, sink.bucket, key, "own", "allowed", _outcome(run)))
        return result.get("value")

    created = step(
        "CreateMultipartUpload", lambda: client.create_multipart_upload(Bucket=sink.bucket, Key=key)
    )
    if created:
        upload = created["UploadId"]
        part = step(
            "UploadPart",
            lambda: client.upload_part(
                Bucket=sink.bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * (5 * MIB)
            ),
        )
        step("ListParts", lambda: client.list_parts(Bucket=sink.bucket, Key=key, UploadId=upload))
        if part:
            step(
                "CompleteMultipartUpload",
                lambda: client.complete_multipart_upload(
                    Bucket=sink.bucket,
                    Key=key,
                    UploadId=upload,
                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
                ),
            )
        step("DeleteObject", lambda: client.delete_object(Bucket=sink.bucket, Key=key))
    aborted = step(
        "CreateMultipartUpload", lambda: client.create_multipart_upload(Bucket=sink.bucket, Key=key)
    )
    if aborted:
        step(
            "AbortMultipartUpload",
            lambda: client.abort_multipart_upload(
                Bucket=sink.bucket, Key=key, UploadId=aborted["UploadId"]
            ),
        )
    return outcomes
