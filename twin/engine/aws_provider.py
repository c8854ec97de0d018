"""The twin's ``aws`` resource plugin: a stand-in for pulumi-aws, for the twin only.

The real provider cannot be built from the registries (docs/twin.md). This one speaks the same
plugin protocol (the Python SDK's own gRPC stubs), is installed as the ``aws`` plugin at the
version the SDK asks for, and performs each resource the program registers as AWS API calls
against the twin's local moto server (``twin/engine/aws_resources.py``), so that AWS's refusals
(a malformed policy, a bad bucket name, a name that exists) stop a deploy as they would.

The two lookups answer for the twin: ``aws:eks/getCluster`` with the twin's API server, CA and
service-account issuer (``TWIN_CLUSTER``, a JSON file twin/up.sh writes), and
``aws:iam/getOpenIdConnectProvider`` from the IAM OIDC providers in moto, where twin/up.sh
registered the twin's issuer as the cluster's owner would.

Run by the plugin launcher twin/up.sh installs: ``python -m twin.engine.aws_provider ENGINE``,
with AWS_ENDPOINT_URL and fake credentials for moto in its environment.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import grpc
from botocore.exceptions import ClientError
from google.protobuf import empty_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from twin.engine.aws_resources import DEFAULTS, Aws, Kind, ProviderError, autoname
from twin.engine.aws_resources import KINDS as RESOURCE_KINDS
from twin.engine.plugin import serve, to_dict, to_struct

Props = dict[str, Any]
log = logging.getLogger("twin-aws")
_DIFF = provider_pb2.PropertyDiff


def _type_and_name(urn: str) -> tuple[str, str]:
    """``urn:pulumi:stack::project::parent$type::name`` -> (type, name)."""
    parts = urn.split("::")
    return parts[2].split("$")[-1], parts[3]


class TwinAwsProvider(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self) -> None:
        self.aws = Aws(os.environ.get("AWS_REGION", "us-east-1"))
        self.invokes: dict[str, Callable[[Props], Props]] = {
            "aws:eks/getCluster:getCluster": self._get_cluster,
            "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider": self._get_oidc_provider,
        }

    # --- plugin and provider configuration ------------------------------------------------
    def Handshake(  # noqa: N802 - gRPC method names
        self, request: provider_pb2.ProviderHandshakeRequest, context: grpc.ServicerContext
    ) -> provider_pb2.ProviderHandshakeResponse:
        return provider_pb2.ProviderHandshakeResponse()

    def GetPluginInfo(  # noqa: N802
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> plugin_pb2.PluginInfo:
        return plugin_pb2.PluginInfo(version=f"{metadata.version('pulumi-aws')}+twin.stand-in")

    def GetSchema(  # noqa: N802
        self, request: provider_pb2.GetSchemaRequest, context: grpc.ServicerContext
    ) -> provider_pb2.GetSchemaResponse:
        return provider_pb2.GetSchemaResponse(schema="{}")

    def CheckConfig(  # noqa: N802
        self, request: provider_pb2.CheckRequest, context: grpc.ServicerContext
    ) -> provider_pb2.CheckResponse:
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(  # noqa: N802
        self, request: provider_pb2.DiffRequest, context: grpc.ServicerContext
    ) -> provider_pb2.DiffResponse:
        olds, news = to_dict(request.olds), to_dict(request.news)
        changed = sorted(k for k in {*olds, *news} - {"version"} if olds.get(k) != news.get(k))
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME
            if changed
            else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=changed,
        )

    def Configure(  # noqa: N802
        self, request: provider_pb2.ConfigureRequest, context: grpc.ServicerContext
    ) -> provider_pb2.ConfigureResponse:
        args = to_dict(request.args)
        region = request.variables.get("aws:config:region") or args.get("region")
        if region:
            self.aws = Aws(str(region))
        log.info("configured for region %s", self.aws.region)
        # Secrets arrive unwrapped. Create and Update are previewed (nothing performed).
        return provider_pb2.ConfigureResponse(acceptSecrets=False, supportsPreview=True)

    # --- resources -----------------------------------------------------------------------
    def _kind(self, urn: str, type_: str, context: grpc.ServicerContext) -> Kind:
        token = type_ or _type_and_name(urn)[0]
        factory = RESOURCE_KINDS.get(token)
        if factory is None:
            context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"{token} is not a resource the twin's aws stand-in performs "
                "(twin/engine/aws_resources.py)",
            )
        return factory(self.aws)

    def Check(  # noqa: N802
        self, request: provider_pb2.CheckRequest, context: grpc.ServicerContext
    ) -> provider_pb2.CheckResponse:
        kind = self._kind(request.urn, request.type, context)
        olds, news = to_dict(request.olds), to_dict(request.news)
        inputs: Props = {**kind.defaults, **{k: v for k, v in news.items() if v is not None}}
        field = kind.name_field
        if field and field not in news:
            if field in olds and field in olds.get(DEFAULTS, []):
                inputs[field] = olds[field]
            else:
                name = request.name or _type_and_name(request.urn)[1]
                generated = autoname(name, request.randomSeed)
                inputs[field] = generated.lower() if kind.token.startswith("aws:s3/") else generated
            inputs[DEFAULTS] = [field]
        failures = [
            provider_pb2.CheckFailure(property=prop, reason=f'"{prop}" {reason}')
            for prop, reason in kind.problems(inputs)
        ]
        return provider_pb2.CheckResponse(inputs=to_struct(inputs), failures=failures)

    def Diff(  # noqa: N802
        self, request: provider_pb2.DiffRequest, context: grpc.ServicerContext
    ) -> provider_pb2.DiffResponse:
        kind = self._kind(request.urn, request.type, context)
        olds, news = to_dict(request.olds), to_dict(request.news)
        old_inputs = to_dict(request.old_inputs)
        ignored = set(request.ignoreChanges)
        detailed: dict[str, provider_pb2.PropertyDiff] = {}
        for key in sorted(({*news, *old_inputs} - {DEFAULTS}) - ignored):
            replace = key in kind.replace_on
            if key not in news:
                if olds.get(key) is None:
                    continue
                diff_kind = _DIFF.DELETE_REPLACE if replace else _DIFF.DELETE
            elif olds.get(key) is None:
                diff_kind = _DIFF.ADD_REPLACE if replace else _DIFF.ADD
            elif not kind.same(key, news[key], olds[key]):
                diff_kind = _DIFF.UPDATE_REPLACE if replace else _DIFF.UPDATE
            else:
                continue
            detailed[key] = provider_pb2.PropertyDiff(kind=diff_kind, inputDiff=True)
        replaces = sorted(k for k in detailed if k in kind.replace_on)
        # A name the program chose cannot exist twice: the replacement has to wait for the
        # delete (the Terraform bridge's rule for an explicitly named resource).
        named = kind.name_field is not None and kind.name_field not in news.get(DEFAULTS, [])
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME
            if detailed
            else provider_pb2.DiffResponse.DIFF_NONE,
            replaces=replaces,
            diffs=sorted(detailed),
            detailedDiff=detailed,
            hasDetailedDiff=True,
            deleteBeforeReplace=bool(replaces) and named,
        )

    def Create(  # noqa: N802
        self, request: provider_pb2.CreateRequest, context: grpc.ServicerContext
    ) -> provider_pb2.CreateResponse:
        kind = self._kind(request.urn, request.type, context)
        inputs = {k: v for k, v in to_dict(request.properties).items() if k != DEFAULTS}
        if request.preview:
            # The engine previews a create through the provider: nothing is performed.
            return provider_pb2.CreateResponse(properties=to_struct(kind.planned(inputs)))
        ident, outputs = self._perform(context, lambda: kind.create(inputs))
        log.info("created %s %s", kind.token, ident)
        return provider_pb2.CreateResponse(id=ident, properties=to_struct(outputs))

    def Read(  # noqa: N802
        self, request: provider_pb2.ReadRequest, context: grpc.ServicerContext
    ) -> provider_pb2.ReadResponse:
        kind = self._kind(request.urn, request.type, context)
        state, inputs = to_dict(request.properties), to_dict(request.inputs)
        found = self._perform(context, lambda: kind.read(request.id, state or inputs))
        if found is None:
            log.info("read %s %s: gone", kind.token, request.id)
            return provider_pb2.ReadResponse(id="")
        # The inputs a refresh leaves in the state: the declared ones, as AWS now holds them.
        refreshed = {k: found.get(k, v) for k, v in inputs.items()}
        return provider_pb2.ReadResponse(
            id=request.id, properties=to_struct(found), inputs=to_struct(refreshed)
        )

    def Update(  # noqa: N802
        self, request: provider_pb2.UpdateRequest, context: grpc.ServicerContext
    ) -> provider_pb2.UpdateResponse:
        kind = self._kind(request.urn, request.type, context)
        olds = to_dict(request.olds)
        news = {k: v for k, v in to_dict(request.news).items() if k != DEFAULTS}
        if request.preview:
            return provider_pb2.UpdateResponse(properties=to_struct({**olds, **news}))
        outputs = self._perform(context, lambda: kind.update(request.id, olds, news))
        log.info("updated %s %s", kind.token, request.id)
        return provider_pb2.UpdateResponse(properties=to_struct(outputs))

    def Delete(  # noqa: N802
        self, request: provider_pb2.DeleteRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        kind = self._kind(request.urn, request.type, context)
        self._perform(context, lambda: kind.delete(request.id, to_dict(request.properties)))
        log.info("deleted %s %s", kind.token, request.id)
        return empty_pb2.Empty()

    def Invoke(  # noqa: N802
        self, request: provider_pb2.InvokeRequest, context: grpc.ServicerContext
    ) -> provider_pb2.InvokeResponse:
        handler = self.invokes.get(request.tok)
        if handler is None:
            context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"{request.tok} is not a lookup the twin's aws stand-in answers",
            )
        result = self._perform(context, lambda: handler(to_dict(request.args)))
        response = provider_pb2.InvokeResponse()
        # `return` is a Python keyword: the field is reached by name.
        getattr(response, "return").CopyFrom(to_struct(result))
        return response

    def _perform(self, context: grpc.ServicerContext, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except ProviderError as error:
            log.info("refused: %s", error)
            context.abort(grpc.StatusCode.UNKNOWN, str(error))
        except ClientError as error:
            log.info("refused: %s", error)
            context.abort(grpc.StatusCode.UNKNOWN, str(error))

    # --- lookups -------------------------------------------------------------------------
    def _get_cluster(self, args: Props) -> Props:
        cluster: Props = json.loads(Path(os.environ["TWIN_CLUSTER"]).read_text())
        name = args.get("name")
        if name != cluster["name"]:
            raise ProviderError(
                f"reading EKS Cluster ({name}): couldn't find resource (the twin is cluster "
                f"{cluster['name']})"
            )
        arn = f"arn:aws:eks:{self.aws.region}:{self.aws.account}:cluster/{name}"
        return {
            "id": name,
            "name": name,
            "arn": arn,
            "endpoint": cluster["endpoint"],
            "certificateAuthorities": [{"data": cluster["certificateAuthority"]}],
            "identities": [{"oidcs": [{"issuer": cluster["issuer"]}]}],
            "version": cluster["version"],
            "status": "ACTIVE",
            "tags": {},
        }

    def _get_oidc_provider(self, args: Props) -> Props:
        iam = self.aws.client("iam")
        wanted_url = str(args.get("url") or "").removeprefix("https://")
        wanted_arn = args.get("arn")
        for entry in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
            arn = entry["Arn"]
            found = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
            url = found["Url"].removeprefix("https://")
            if arn == wanted_arn or (wanted_url and url == wanted_url):
                return {
                    "id": arn,
                    "arn": arn,
                    "url": url,
                    "clientIdLists": found.get("ClientIDList", []),
                    "thumbprintLists": found.get("ThumbprintList", []),
                    "tags": {t["Key"]: t["Value"] for t in found.get("Tags", [])},
                }
        raise ProviderError(
            f"reading IAM OIDC Provider: no IAM OIDC provider found matching criteria "
            f"(url {wanted_url or '-'}, arn {wanted_arn or '-'})"
        )


def main(argv: list[str]) -> None:
    logging.basicConfig(
        filename=os.environ.get("TWIN_AWS_LOG") or os.devnull,
        level=logging.INFO,
        format="%(asctime)s %(message)s",
    )
    provider = TwinAwsProvider()
    positional = [a for a in argv if not a.startswith("-")]
    serve(
        lambda server: provider_pb2_grpc.add_ResourceProviderServicer_to_server(provider, server),
        positional[-1] if positional else None,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
