"""The servers a data-path run starts and stops itself: a small OpenID provider and MinIO.

MinIO serves S3 and STS over TLS on one 127.0.0.1 port. Its OpenID configuration trusts the
provider here (audience ``sts.amazonaws.com``, as IRSA tokens carry) and takes the MinIO policy
of the credentials it hands out from the token's ``policy`` claim: a stream's token names its own
policy, as an IRSA token names the stream's service account, whose role holds the policy.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import jwt
import urllib3
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm
from minio import MinioAdmin
from minio.credentials.providers import StaticProvider

from twin.processes import poll, stop_group

HOST = "127.0.0.1"
AUDIENCE = "sts.amazonaws.com"  # what EKS puts in the projected IRSA token
POLICY_CLAIM = "policy"
TRUSTSTORE_PASSWORD = "e2e-data"
# MinIO's one KMS key: what an sse-kms bucket's default encryption names instead of the stack's
KMS_KEY = "spark-streams-e2e"


class ServerError(AssertionError):
    pass


class OidcIssuer:
    """Discovery document, JWKS and RS256 tokens; the stand-in for the cluster's OIDC issuer."""

    def __init__(self, port: int) -> None:
        self.url = f"http://{HOST}:{port}"
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update(kid="e2e-data", use="sig", alg="RS256")
        documents = {
            "/.well-known/openid-configuration": {
                "issuer": self.url,
                "jwks_uri": f"{self.url}/keys",
                "authorization_endpoint": f"{self.url}/authorize",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            },
            "/keys": {"keys": [jwk]},
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                document = documents.get(self.path)
                body = json.dumps(document).encode()
                self.send_response(200 if document else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                if document:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def token(self, cluster: str, subject: str, policy: str, lifetime_s: int = 3600) -> str:
        """A service account's token from the cluster's issuer (each stack is a cluster of its
        own, one issuer each, whose service accounts have the same names). MinIO keeps an
        identity's policy per (``sub``, ``iss``): two stacks' streams of one name under one
        issuer would share one, each AssumeRoleWithWebIdentity rebinding the other's
        credentials. It checks the signature (our keys) and not ``iss``."""
        now = int(time.time())
        claims = {
            "iss": f"{self.url}/clusters/{cluster}",
            "sub": subject,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + lifetime_s,
            POLICY_CLAIM: policy,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "e2e-data"})

    def __enter__(self) -> OidcIssuer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class Tls:
    """A self-signed certificate for 127.0.0.1, and a Java trust store holding only it."""

    certs_dir: Path  # public.crt + private.key, as MinIO's --certs-dir wants
    truststore: Path

    @property
    def ca_file(self) -> Path:
        return self.certs_dir / "public.crt"

    @classmethod
    def make(cls, directory: Path) -> Tls:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        certs = directory / "certs"
        certs.mkdir(parents=True)
        (certs / "public.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (certs / "private.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        truststore = directory / "truststore.p12"
        # The JDK's own tool writes the trusted-certificate entry Java's PKCS12 reader expects.
        subprocess.run(
            [
                "keytool",
                "-importcert",
                "-noprompt",
                "-alias",
                "minio",
                "-file",
                str(certs / "public.crt"),
                "-keystore",
                str(truststore),
                "-storetype",
                "PKCS12",
                "-storepass",
                TRUSTSTORE_PASSWORD,
            ],
            check=True,
            capture_output=True,
        )
        return cls(certs, truststore)


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str | None = None


class Minio:
    """One MinIO server for the whole run: every stack's buckets, every identity's policy."""

    def __init__(
        self, binary: Path, port: int, work: Path, issuer: OidcIssuer, region: str
    ) -> None:
        self.binary = binary
        self.port = port
        self.endpoint = f"https://{HOST}:{port}"
        self.region = region
        self.work = work
        self.tls = Tls.make(work)
        self.root = Credentials("e2e-root", secrets.token_hex(16))
        self._issuer = issuer
        self._process: subprocess.Popen[bytes] | None = None
        self.log = work / "minio.log"

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.work),
            "MINIO_ROOT_USER": self.root.access_key,
            "MINIO_ROOT_PASSWORD": self.root.secret_key,
            "MINIO_SITE_REGION": self.region,
            # One static key: SSE-S3 (and SSE-KMS with that key) work; there is no KMS to
            # authorise per identity, so kms:* statements cannot be held here.
            "MINIO_KMS_SECRET_KEY": f"{KMS_KEY}:{base64.b64encode(os.urandom(32)).decode()}",
            "MINIO_IDENTITY_OPENID_CONFIG_URL": self._issuer.discovery_url,
            "MINIO_IDENTITY_OPENID_CLIENT_ID": AUDIENCE,
            "MINIO_IDENTITY_OPENID_CLAIM_NAME": POLICY_CLAIM,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
        }

    def start(self) -> None:
        data = self.work / "data"
        data.mkdir()
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(self.binary),
                    "server",
                    "--quiet",
                    "--address",
                    f"{HOST}:{self.port}",
                    "--certs-dir",
                    str(self.tls.certs_dir),
                    str(data),
                ],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        http = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(self.tls.ca_file))

        def ready() -> bool:
            if self._process is not None and self._process.poll() is not None:
                raise ServerError(f"minio exited: {self.log.read_text()[-2000:]}")
            try:
                return http.request("GET", f"{self.endpoint}/minio/health/ready").status == 200
            except urllib3.exceptions.HTTPError:
                return False

        poll("minio", 30, ready, every=0.2)

    def stop(self) -> None:
        if self._process is not None:
            stop_group(self._process, 10)

    @contextmanager
    def running(self) -> Iterator[Minio]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    # --- clients ------------------------------------------------------------------------
    # Each on a session of its own: the streams' threads make clients at the same time, and
    # boto3's default session is not safe for that (its clients are).
    def s3(self, credentials: Credentials | None = None) -> Any:
        """A plain S3 client (boto3) holding these credentials, the root's by default."""
        creds = credentials or self.root
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=creds.access_key,
            aws_secret_access_key=creds.secret_key,
            aws_session_token=creds.session_token,
            verify=str(self.tls.ca_file),
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def admin(self) -> MinioAdmin:
        return MinioAdmin(
            endpoint=f"{HOST}:{self.port}",
            credentials=StaticProvider(self.root.access_key, self.root.secret_key),
            secure=True,
            http_client=urllib3.PoolManager(
                cert_reqs="CERT_REQUIRED", ca_certs=str(self.tls.ca_file)
            ),
        )

    def assume_role_with_web_identity(self, token: str, role_arn: str) -> Credentials:
        """What an SDK's web identity provider does: the token for session credentials."""
        sts = boto3.session.Session().client(
            "sts",
            endpoint_url=self.endpoint,
            region_name=self.region,
            verify=str(self.tls.ca_file),
        )
        found = sts.assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName="e2e-data", WebIdentityToken=token
        )["Credentials"]
        return Credentials(found["AccessKeyId"], found["SecretAccessKey"], found["SessionToken"])
