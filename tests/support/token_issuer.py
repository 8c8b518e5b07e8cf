"""A small Docker token issuer, so the registry's `auth.token` mode runs against a real JWT signer.

The flow is the one GHCR and Docker Hub use: the registry answers 401 with
`WWW-Authenticate: Bearer realm=...,service=...,scope=repository:NAME:pull,push`, the client asks
the realm for a token (optionally with basic credentials), and retries with `Authorization: Bearer`.
Distribution 2.8 (libtrust era) finds the signing key by the JWT header's `kid`, which it reads as a
libtrust fingerprint of the public keys in `rootcertbundle`; see `libtrust_key_id`.

Policy, chosen to match public registries: known users with the right password get every action
they ask for; a wrong password is refused with 401; anonymous callers get only `pull` (or nothing
when `anonymous_pull=False`). Every request is recorded without secrets, so tests can assert which
scopes a client asked for, and nothing is ever printed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: Actions distribution knows for repositories; `*` is what `delete` needs on some setups.
KNOWN_ACTIONS = frozenset({"pull", "push", "delete", "*"})


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """The key ID libtrust computes: base32 of the first 240 bits of SHA-256 over the DER SPKI,
    without padding, in colon-separated groups of four (e.g. `ABCD:EFGH:...`, 12 groups)."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(der).digest()[:30]
    encoded = base64.b32encode(digest).decode("ascii").rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


@dataclass(frozen=True)
class TokenRequest:
    """One request the issuer saw. Holds no password or token."""

    method: str
    service: str | None
    scopes: tuple[str, ...]
    username: str | None  # the basic-auth user name offered, if any
    authenticated: bool  # the credentials were offered and correct
    status: int
    granted: tuple[str, ...]  # "repository:NAME:a,b" strings actually granted


@dataclass(frozen=True)
class SigningMaterial:
    """A self-signed ES256 certificate whose key signs the tokens."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    key_id: str

    @classmethod
    def generate(cls, common_name: str = "clamp test token issuer") -> SigningMaterial:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key=key, certificate=cert, key_id=libtrust_key_id(key.public_key()))

    def write_bundle(self, path: Path) -> Path:
        """Write the certificate as the registry's `rootcertbundle`."""
        path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return path


@dataclass
class IssuerPolicy:
    """Who gets what. Mutable on purpose: a test may flip `anonymous_pull` for its own case."""

    users: dict[str, str]
    service: str
    issuer: str
    anonymous_pull: bool = True
    expires_in: int = 300


def _parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """Split `repository:NAME:pull,push` (NAME may hold a `:port`, so split from the right)."""
    head, sep, actions = scope.rpartition(":")
    if not sep:
        return None
    rtype, sep, name = head.partition(":")
    if not sep or not rtype or not name:
        return None
    return rtype, name, [a for a in actions.split(",") if a]


@dataclass
class TokenIssuer:
    """The HTTP token service, run in a daemon thread on a free loopback port.

    Use as a context manager or call `start()`/`stop()`. `realm` is the URL the registry's
    `auth.token.realm` points at.
    """

    policy: IssuerPolicy
    signing: SigningMaterial = field(default_factory=SigningMaterial.generate)
    requests: list[TokenRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("token issuer not started")
        return int(self._server.server_address[1])

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def start(self) -> TokenIssuer:
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="token-issuer", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> TokenIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- recording -------------------------------------------------------------------------------
    def recorded(self) -> list[TokenRequest]:
        """A snapshot of the requests seen so far (thread-safe)."""
        with self._lock:
            return list(self.requests)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def _record(self, req: TokenRequest) -> None:
        with self._lock:
            self.requests.append(req)

    # -- token logic -----------------------------------------------------------------------------
    def check_password(self, username: str, password: str) -> bool:
        expected = self.policy.users.get(username)
        return expected is not None and hmac.compare_digest(
            expected.encode("utf-8"), password.encode("utf-8")
        )

    def grant(self, scopes: list[str], authenticated: bool) -> list[dict[str, Any]]:
        """The `access` claim: what this caller may do for each requested scope."""
        access: list[dict[str, Any]] = []
        for scope in scopes:
            parsed = _parse_scope(scope)
            if parsed is None:
                continue
            rtype, name, actions = parsed
            if authenticated:
                allowed = [a for a in actions if a in KNOWN_ACTIONS]
            elif self.policy.anonymous_pull and rtype == "repository":
                allowed = [a for a in actions if a == "pull"]
            else:
                allowed = []
            if allowed:
                access.append({"type": rtype, "name": name, "actions": allowed})
        return access

    def issue(self, subject: str, access: list[dict[str, Any]]) -> dict[str, Any]:
        """Sign a token the registry accepts and wrap it in the token endpoint's JSON answer."""
        now = int(time.time())
        claims = {
            "iss": self.policy.issuer,
            "sub": subject,
            "aud": self.policy.service,  # distribution 2.8 wants a string, not a list
            "exp": now + self.policy.expires_in,
            "nbf": now - 5,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = jwt.encode(
            claims,
            self.signing.key,
            algorithm="ES256",
            headers={"kid": self.signing.key_id, "typ": "JWT"},
        )
        issued = dt.datetime.fromtimestamp(now, dt.UTC).isoformat().replace("+00:00", "Z")
        return {
            "token": token,
            "access_token": token,
            "expires_in": self.policy.expires_in,
            "issued_at": issued,
        }


def _decode_basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = raw.partition(":")
    return (user, password) if sep else None


def _make_handler(issuer: TokenIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "clamp-test-token-issuer"

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: a request line or header could carry a secret, and tests read records."""

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            self._answer("GET", query, _decode_basic(self.headers.get("Authorization")))

        def do_POST(self) -> None:
            # The OAuth2 password grant docker uses for refresh-style logins.
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
            creds = _decode_basic(self.headers.get("Authorization"))
            if creds is None and form.get("grant_type") == ["password"]:
                creds = (form.get("username", [""])[0], form.get("password", [""])[0])
            self._answer("POST", form, creds)

        def _answer(
            self, method: str, params: dict[str, list[str]], creds: tuple[str, str] | None
        ) -> None:
            if urlsplit(self.path).path != "/token":
                self._send(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
                return
            scopes: list[str] = []
            for value in params.get("scope", []):
                scopes.extend(value.split(" "))  # space-separated scopes are allowed too
            service = params.get("service", [None])[0]
            username = creds[0] if creds else None
            authenticated = creds is not None and issuer.check_password(*creds)
            granted: list[dict[str, Any]] = []
            if creds is not None and not authenticated:
                status, body = 401, _denied()
            elif service is not None and service != issuer.policy.service:
                status, body = 400, _error("unknown service")
            else:
                granted = issuer.grant(scopes, authenticated)
                body = issuer.issue(username if authenticated and username else "", granted)
                status = 200
            issuer._record(
                TokenRequest(
                    method=method,
                    service=service,
                    scopes=tuple(scopes),
                    username=username,
                    authenticated=authenticated,
                    status=status,
                    granted=tuple(
                        f"{g['type']}:{g['name']}:{','.join(g['actions'])}" for g in granted
                    ),
                )
            )
            self._send(status, body)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="clamp-test-token-issuer"')
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _error(message: str) -> dict[str, Any]:
    return {"errors": [{"code": "DENIED", "message": message}]}


def _denied() -> dict[str, Any]:
    return _error("incorrect username or password")


def new_policy(
    *, service: str = "clamp-test-registry", users: dict[str, str] | None = None
) -> IssuerPolicy:
    """A policy with one random test user (`clamp-tester`) unless `users` is given."""
    return IssuerPolicy(
        users=users if users is not None else {"clamp-tester": secrets.token_urlsafe(18)},
        service=service,
        issuer="clamp-test-issuer",
    )
