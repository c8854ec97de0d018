"""spark-streams policy pack: `pulumi preview --policy-pack policies`."""

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from spark_streams_policy import (
    BUCKET,
    DEFAULT_NAMESPACES,
    DEFAULT_PINNED_STACKS,
    DEFAULT_PROTECTED,
    DEPLOYMENT,
    ROLE_POLICIES,
    SPARK_APPLICATION,
    buckets_hardened,
    images_pinned,
    no_s3_wildcards,
    prod_data_protected,
    spark_application_well_formed,
)


def _for_types(types: tuple[str, ...], rule: Any, setting: str | None = None) -> Any:
    """``rule`` on resources of ``types``; ``setting`` names the policy config it takes."""

    def validate(args: Any, report: Any) -> None:
        if args.resource_type not in types:
            return
        value = args.get_config().get(setting) if setting else None
        if value is None:
            rule(args, report)
        else:
            rule(args, report, value)

    return validate


PolicyPack(
    name="spark-streams",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        StackValidationPolicy(
            name="buckets-hardened",
            description="Buckets are versioned, encrypted, private and owner-enforced.",
            validate=lambda args, report: buckets_hardened(args.resources, report),
        ),
        ResourceValidationPolicy(
            name="no-s3-wildcards",
            description="IAM policies name S3 actions, buckets and prefixes: no wildcard or "
            "policy variable but a trailing /*, no NotAction or NotResource.",
            validate=_for_types(ROLE_POLICIES, no_s3_wildcards),
        ),
        ResourceValidationPolicy(
            name="spark-applications-well-formed",
            description="SparkApplications have a restart policy, resources, our namespace.",
            validate=_for_types((SPARK_APPLICATION,), spark_application_well_formed, "namespaces"),
            # a stack with another `namespace` lists it in --policy-pack-config
            config_schema=PolicyConfigSchema(
                properties={
                    "namespaces": {
                        "type": "array",
                        "items": {"type": "string"},
                        "default": list(DEFAULT_NAMESPACES),
                    }
                }
            ),
        ),
        ResourceValidationPolicy(
            name="prod-data-protected",
            description="Prod lake and checkpoint buckets are protected.",
            validate=_for_types((BUCKET,), prod_data_protected, "pattern"),
            config_schema=PolicyConfigSchema(
                properties={"pattern": {"type": "string", "default": DEFAULT_PROTECTED}}
            ),
        ),
        ResourceValidationPolicy(
            name="images-pinned-by-digest",
            description="Workloads of the listed stacks (default: prod) run images by digest.",
            validate=_for_types((SPARK_APPLICATION, DEPLOYMENT), images_pinned, "stacks"),
            config_schema=PolicyConfigSchema(
                properties={
                    "stacks": {
                        "type": "array",
                        "items": {"type": "string"},
                        "default": list(DEFAULT_PINNED_STACKS),
                    }
                }
            ),
        ),
    ],
)
