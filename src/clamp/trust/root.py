"""Sigstore `trusted_root.json`: the Fulcio CAs, Rekor logs, CT logs and TSAs we trust, with
the validity window of each.

The Sigstore public-good production root ships in `clamp/data/trusted_root.json` (a copy of the
public data file), so verification never needs the network; `--trusted-root FILE` replaces it.
A root with a malformed entry (e.g. a log key without `validFor.start`) is refused as a whole:
silently dropping one instance would make a later failure hard to explain.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization

from clamp.trust.encoding import loads_json
from clamp.trust.errors import TrustInputError
from clamp.trust.keys import PublicKey
from clamp.trust.mediatypes import TRUSTED_ROOT_MEDIA_TYPES

if TYPE_CHECKING:  # loaded when a root is read (a key-only run reads none)
    from cryptography import x509

MAX_ROOT = 4 * 1024 * 1024
CHECK = "trusted-root"


@dataclass(frozen=True)
class Validity:
    start: datetime
    end: datetime | None

    def contains(self, when: datetime) -> bool:
        """Inclusive at both ends, as sigstore-go compares (`end` itself is still valid)."""
        return self.start <= when and (self.end is None or when <= self.end)


@dataclass(frozen=True)
class LogInstance:
    """A Rekor or CT log: its key, its ID (bytes) and when the key may be used."""

    log_id: bytes
    key: PublicKey
    key_details: str
    validity: Validity
    base_url: str


@dataclass(frozen=True)
class CertificateAuthority:
    """A Fulcio CA or TSA: its chain (leaf-most first, root last) and validity window.

    `instance_tlogs`/`instance_ctlogs`: whether the sigstore instance this CA came with (its
    trusted root) runs a transparency log / a CT log. GitHub's own instance, which signs
    attestations of private repositories, runs neither: its signatures carry a signed
    timestamp instead, and a verifier asks for no log entry or SCT there (as `gh` does).
    """

    certificates: tuple[x509.Certificate, ...]
    validity: Validity
    uri: str
    instance_tlogs: bool = True
    instance_ctlogs: bool = True


@dataclass(frozen=True)
class TrustedRoot:
    tlogs: tuple[LogInstance, ...]
    ctlogs: tuple[LogInstance, ...]
    certificate_authorities: tuple[CertificateAuthority, ...]
    timestamp_authorities: tuple[CertificateAuthority, ...]
    source: str

    def tlog(self, log_id: bytes) -> LogInstance | None:
        return next((log for log in self.tlogs if log.log_id == log_id), None)

    def ctlog(self, log_id: bytes) -> LogInstance | None:
        return next((log for log in self.ctlogs if log.log_id == log_id), None)


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise TrustInputError(CHECK, f"{what} is missing or not a timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise TrustInputError(CHECK, f"{what} is not an RFC 3339 time") from exc
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _obj(value: Any, what: str, *, optional: bool = False) -> dict[str, Any]:
    """An object where one belongs (an absent optional one reads as empty): a list or a string
    there is a malformed root, said in one line, never a crash."""
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise TrustInputError(CHECK, f"{what} is missing or not an object")
    return value


def _validity(obj: Any, what: str) -> Validity:
    if not isinstance(obj, dict):
        raise TrustInputError(CHECK, f"{what}.validFor is missing or not an object")
    end = obj.get("end")
    return Validity(_time(obj.get("start"), f"{what}.validFor.start"),
                    _time(end, f"{what}.validFor.end") if end is not None else None)


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise TrustInputError(CHECK, f"{what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise TrustInputError(CHECK, f"{what} is not base64") from exc


def _log(obj: Any, what: str) -> LogInstance:
    obj = _obj(obj, what)
    pk = _obj(obj.get("publicKey"), f"{what}.publicKey")
    raw = _b64(pk.get("rawBytes"), f"{what}.publicKey.rawBytes")
    try:
        key = PublicKey(serialization.load_der_public_key(raw))  # type: ignore[arg-type]
    except ValueError as exc:
        raise TrustInputError(CHECK, f"{what}.publicKey is not a DER key") from exc
    log_id = _b64(_obj(obj.get("logId"), f"{what}.logId").get("keyId"), f"{what}.logId.keyId")
    return LogInstance(log_id, key, str(pk.get("keyDetails", "")),
                       _validity(pk.get("validFor"), what), str(obj.get("baseUrl", "")))


def _authority(obj: Any, what: str) -> CertificateAuthority:
    obj = _obj(obj, what)
    certs_json = _obj(obj.get("certChain"), f"{what}.certChain").get("certificates")
    if not isinstance(certs_json, list) or not certs_json:
        raise TrustInputError(CHECK, f"{what}.certChain is empty")
    from cryptography import x509

    certs = []
    for i, cert in enumerate(certs_json):
        raw = _b64(_obj(cert, f"{what}.certChain[{i}]").get("rawBytes"),
                   f"{what}.certChain[{i}].rawBytes")
        try:
            certs.append(x509.load_der_x509_certificate(raw))
        except ValueError as exc:
            raise TrustInputError(CHECK, f"{what}.certChain[{i}] is not DER") from exc
    return CertificateAuthority(tuple(certs), _validity(obj.get("validFor"), what),
                                str(obj.get("uri", "")))


def parse_trusted_root(data: bytes, *, source: str = "<memory>") -> TrustedRoot:
    """One trusted root, or several one to a line (`gh attestation trusted-root` prints the
    public-good and GitHub roots that way), merged: a signature any of them vouches for is
    trusted."""
    lines = [line for line in data.splitlines() if line.strip()]
    if len(lines) > 1 and all(line.lstrip().startswith(b"{") and line.rstrip().endswith(b"}")
                              for line in lines):
        try:
            roots = [_parse_one(line, source) for line in lines]
        except TrustInputError:
            if all(_is_json(line) for line in lines):
                raise  # JSON lines, one of them not a usable root: say which problem
            roots = []  # not JSON lines after all: one pretty-printed document
        if roots:
            return TrustedRoot(
                tlogs=tuple(x for r in roots for x in r.tlogs),
                ctlogs=tuple(x for r in roots for x in r.ctlogs),
                certificate_authorities=tuple(x for r in roots
                                              for x in r.certificate_authorities),
                timestamp_authorities=tuple(x for r in roots for x in r.timestamp_authorities),
                source=source)
    return _parse_one(data, source)


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _parse_one(data: bytes, source: str) -> TrustedRoot:
    doc = loads_json(data, check=CHECK, limit=MAX_ROOT, error=TrustInputError)
    if not isinstance(doc, dict):
        raise TrustInputError(CHECK, "not a JSON object", where=source)
    media_type = doc.get("mediaType")
    if not isinstance(media_type, str) or media_type not in TRUSTED_ROOT_MEDIA_TYPES:
        raise TrustInputError(CHECK, f"unsupported mediaType {str(media_type)[:80]!r}",
                              where=source)

    def items(name: str) -> list[Any]:
        value = doc.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise TrustInputError(CHECK, f"{name} is not a list", where=source)
        return value

    try:
        tlogs = tuple(_log(o, f"tlogs[{i}]") for i, o in enumerate(items("tlogs")))
        ctlogs = tuple(_log(o, f"ctlogs[{i}]") for i, o in enumerate(items("ctlogs")))
        return TrustedRoot(
            tlogs=tlogs, ctlogs=ctlogs,
            certificate_authorities=tuple(
                replace(_authority(o, f"certificateAuthorities[{i}]"),
                        instance_tlogs=bool(tlogs), instance_ctlogs=bool(ctlogs))
                for i, o in enumerate(items("certificateAuthorities"))),
            timestamp_authorities=tuple(
                _authority(o, f"timestampAuthorities[{i}]")
                for i, o in enumerate(items("timestampAuthorities"))),
            source=source,
        )
    except TrustInputError as exc:
        raise TrustInputError(CHECK, exc.reason, where=source) from exc


def load_trusted_root(path: str | Path | None = None) -> TrustedRoot:
    """The root at `path`, or the shipped Sigstore public-good production root."""
    if path is None:
        data = resources.files("clamp.data").joinpath("trusted_root.json").read_bytes()
        return parse_trusted_root(data, source="sigstore-public-good (shipped)")
    from clamp.files import read_at_most

    try:
        data = read_at_most(path, MAX_ROOT)
    except OSError as exc:
        raise TrustInputError(CHECK, f"cannot read: {exc.strerror}", where=str(path)) from exc
    if len(data) > MAX_ROOT:
        raise TrustInputError(CHECK, f"larger than {MAX_ROOT // 2**20} MiB", where=str(path))
    return parse_trusted_root(data, source=str(path))
