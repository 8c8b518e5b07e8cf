"""Red team 13: a bundle's inclusion proof and checkpoint, read as sigstore-go reads them.

sigstore-go tells a Rekor v1 checkpoint (origin `host - <tree ID>`) from a Rekor v2 one (a
C2SP checkpoint whose origin is the log's host). A v1 checkpoint is rekor's `SignedNote.Verify`:
every signature line the log key's, every one verifying. A v2 one is transparency-dev's
`ParseCheckpoint` with a note verifier named after the log's host: that origin, the log's lines
verifying (a bad one refuses the note), other lines (witnesses) ignored; its inclusion is proved
at the entry's own `logIndex`. clamp read both alike — any one good line, no origin, the entry's
index reported without being proved — so each attacker case below verified before the fix.

Every bundle is a real key-signed v0.3 DSSE bundle (`clamp sign`'s), its log entries built by
the project's test logs (`tests/trust/test_other_tools_formats.py`: a Rekor v1 log with SETs and
an Ed25519 rekor-tiles log), their checkpoints signed by those logs' keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from clamp.trust.bundle import Artifact, verify_bundle
from clamp.trust.checkpoint import go_hostname, is_rekor_v1_checkpoint
from clamp.trust.encoding import canonical_json
from clamp.trust.errors import TrustError
from clamp.trust.keys import PublicKey
from clamp.trust.pki import TestSigstore
from clamp.trust.policy import Policy
from clamp.trust.result import VerificationResult
from clamp.trust.sign import sign_image_bundle
from tests.trust.test_other_tools_formats import TileLog, b64, dsse_v002, inclusion, root_with

DIGEST = "sha256:" + "ab" * 32
REFERENCE = "registry.test/rocm/dev"
TILE_ORIGIN = "log2025-1.rekor.clamp.test"

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def pki() -> TestSigstore:
    return TestSigstore()


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def tile() -> TileLog:
    return TileLog(TILE_ORIGIN, ed25519.Ed25519PrivateKey.generate())


def _signed(key: ec.EllipticCurvePrivateKey) -> tuple[dict[str, Any], bytes, bytes]:
    """A `clamp sign` v0.3 bundle (no log entry yet), its statement and DSSE signature."""
    doc = json.loads(sign_image_bundle(key, DIGEST, REFERENCE))
    envelope = doc["dsseEnvelope"]
    return doc, base64.b64decode(envelope["payload"]), base64.b64decode(
        envelope["signatures"][0]["sig"])


def _line(name: str, hint: bytes, signature: bytes) -> str:
    return f"\u2014 {name} {b64(hint + signature)}\n"


def _note(origin: str, size: int, root_hash: bytes, lines: list[str]) -> str:
    return f"{origin}\n{size}\n{b64(root_hash)}\n\n" + "".join(lines)


def _text(origin: str, size: int, root_hash: bytes) -> bytes:
    return f"{origin}\n{size}\n{b64(root_hash)}\n".encode()


def _verify(pki: TestSigstore, tile: TileLog, key: ec.EllipticCurvePrivateKey,
            doc: dict[str, Any]) -> VerificationResult:
    policy = Policy.with_root(root_with(pki, tlogs=(tile.tlog_json(pki.start),)),
                              keys=(PublicKey(key.public_key()),), require_tlog=True)
    return verify_bundle(json.dumps(doc).encode(), Artifact.from_digest(DIGEST), policy)


# --- Rekor v2 (rekor-tiles) ------------------------------------------------------------------

def _v2(tile: TileLog, key: ec.EllipticCurvePrivateKey, *, index: int = 3, size: int = 5,
        origin: str = TILE_ORIGIN, lines: Callable[[bytes], list[str]] | None = None,
        edit: Edit | None = None) -> dict[str, Any]:
    """The bundle with a Rekor v2 dsse 0.0.2 entry at `index`; `lines(note text)` replaces the
    checkpoint's signature lines (default: the log's one)."""
    doc, statement, signature = _signed(key)
    body = dsse_v002(statement, signature, PublicKey(key.public_key()))
    raw = canonical_json(body)
    root_hash, path = inclusion(raw, index, size)
    text = _text(origin, size, root_hash)
    signed = lines(text) if lines else [_line(TILE_ORIGIN, tile.log_id[:4], tile.key.sign(text))]
    entry = {"logIndex": str(index), "logId": {"keyId": b64(tile.log_id)},
             "kindVersion": {"kind": "dsse", "version": "0.0.2"},
             "inclusionProof": {"logIndex": str(index), "rootHash": b64(root_hash),
                                "treeSize": str(size), "hashes": [b64(h) for h in path],
                                "checkpoint": {"envelope": _note(origin, size, root_hash,
                                                                 signed)}},
             "canonicalizedBody": b64(raw)}
    if edit:
        edit(entry)
    doc["verificationMaterial"]["tlogEntries"] = [entry]
    return doc


def _entry_index(value: str) -> Edit:
    def edit(entry: dict[str, Any]) -> None:
        entry["logIndex"] = value
    return edit


def _v2_attacks(tile: TileLog) -> dict[str, tuple[dict[str, Any], str]]:
    other = ed25519.Ed25519PrivateKey.generate()
    hint = tile.log_id[:4]
    return {
        # The proof is of index 3; the entry (what the record reports) says 4 or 0.
        "entry index not the proof's": ({"edit": _entry_index("4")}, "inclusion-proof"),
        "entry index 0": ({"edit": _entry_index("0")}, "inclusion-proof"),
        # A line under the log's name and key hint that does not verify, then the good one.
        "a bad line by the log's key": ({"lines": lambda text: [
            _line(TILE_ORIGIN, hint, other.sign(text)),
            _line(TILE_ORIGIN, hint, tile.key.sign(text))]}, "checkpoint"),
        # The log's key signing a note of another origin (rekor-tiles signs only its own).
        "another origin": ({"origin": "rekor.attacker.example", "lines": lambda text: [
            _line(TILE_ORIGIN, hint, tile.key.sign(text))]}, "checkpoint"),
        # The log's signature under another name: the note verifier knows it by the host.
        "the log's line under another name": ({"lines": lambda text: [
            _line("rekor.attacker.example", hint, tile.key.sign(text))]}, "checkpoint"),
    }


@pytest.mark.parametrize("case", ["entry index not the proof's", "entry index 0",
                                  "a bad line by the log's key", "another origin",
                                  "the log's line under another name"])
def test_a_rekor_v2_proof_sigstore_go_refuses_is_refused(pki: TestSigstore, tile: TileLog,
                                                         key: ec.EllipticCurvePrivateKey,
                                                         case: str) -> None:
    options, check = _v2_attacks(tile)[case]
    with pytest.raises(TrustError) as info:
        _verify(pki, tile, key, _v2(tile, key, **options))
    assert info.value.check == check, str(info.value)


def test_a_rekor_v2_proof_as_rekor_tiles_writes_it_passes(pki: TestSigstore, tile: TileLog,
                                                          key: ec.EllipticCurvePrivateKey
                                                          ) -> None:
    """The entry at its own index, the log's line among witness cosignatures (first or last,
    as in the conformance cases `rekor2-checkpoint-origin-not-first` and `-cosigned`), and a
    line under the log's name from a key the root does not list (`-two-sigs-from-origin`)."""
    witness = ed25519.Ed25519PrivateKey.generate()
    stranger = ec.generate_private_key(ec.SECP256R1())
    hint = tile.log_id[:4]

    def cosigned(text: bytes) -> list[str]:
        return [_line("witness.clamp.test", b"\x01\x02\x03\x04", witness.sign(text)),
                _line(TILE_ORIGIN, hint, tile.key.sign(text)),
                _line(TILE_ORIGIN, b"\x09\x09\x09\x09",
                      stranger.sign(text, ec.ECDSA(hashes.SHA256())))]

    for index, size in ((3, 5), (0, 1)):  # a tree of one entry proves it with no hashes
        result = _verify(pki, tile, key, _v2(tile, key, index=index, size=size))
        assert result.ok and result.log_index == index
    result = _verify(pki, tile, key, _v2(tile, key, lines=cosigned))
    assert result.ok and result.log_index == 3 and result.time_source == "inclusion_proof"


def _proof(change: Callable[[dict[str, Any]], None]) -> Edit:
    def edit(entry: dict[str, Any]) -> None:
        change(entry["inclusionProof"])
    return edit


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(proof: dict[str, Any]) -> None:
        proof[key] = value
    return change


@pytest.mark.parametrize("change", [
    lambda p: p["hashes"].append(b64(b"\x00" * 32)),        # an extra hash
    lambda p: p["hashes"].pop(),                              # one hash short
    lambda p: p["hashes"].reverse(),                          # the path out of order
    lambda p: p.update(hashes=[b64(b"\x00" * 31), *p["hashes"][1:]]),  # a 31-byte hash
    _set("treeSize", "3"),                                    # index 3 outside a tree of 3
    _set("treeSize", "0"),
    _set("logIndex", "-1"),
], ids=["extra-hash", "hash-short", "reordered", "short-hash", "index-at-size", "size-0",
        "negative-index"])
def test_a_proof_that_is_not_the_entrys_path_is_refused(pki: TestSigstore, tile: TileLog,
                                                        key: ec.EllipticCurvePrivateKey,
                                                        change: Callable[[dict[str, Any]],
                                                                         None]) -> None:
    """Tried in session 13 and already refused (`verify_inclusion`, RFC 9162 §2.1.3.2)."""
    with pytest.raises(TrustError) as info:
        _verify(pki, tile, key, _v2(tile, key, edit=_proof(change)))
    assert info.value.check in ("inclusion-proof", "checkpoint"), str(info.value)


# --- Rekor v1 --------------------------------------------------------------------------------

def _v1(pki: TestSigstore, key: ec.EllipticCurvePrivateKey, *, shard_offset: int = 0,
        extra: Callable[[bytes], list[str]] | None = None) -> dict[str, Any]:
    """The bundle with a Rekor v1 dsse 0.0.1 entry: SET over the entry's (virtual) logIndex,
    inclusion proof at index 3 of the shard's tree, checkpoint `rekor.clamp.test - 42`."""
    doc, statement, signature = _signed(key)
    pem = PublicKey(key.public_key()).pem
    body = {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
        "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(statement).hexdigest()},
        "signatures": [{"signature": b64(signature), "verifier": b64(pem)}]}}
    pki.log_index = shard_offset + 3
    promise = json.loads(pki.rekor_bundle(body))
    payload = promise["Payload"]
    raw = base64.b64decode(payload["body"])
    root_hash, path = inclusion(raw, 3, 5)
    text = _text("rekor.clamp.test - 42", 5, root_hash)
    lines = [_line("rekor.clamp.test", pki.rekor.log_id[:4], pki.rekor.sign(text))]
    doc["verificationMaterial"]["tlogEntries"] = [{
        "logIndex": str(payload["logIndex"]), "logId": {"keyId": b64(pki.rekor.log_id)},
        "kindVersion": {"kind": "dsse", "version": "0.0.1"},
        "integratedTime": str(payload["integratedTime"]),
        "inclusionPromise": {"signedEntryTimestamp": promise["SignedEntryTimestamp"]},
        "inclusionProof": {"logIndex": "3", "rootHash": b64(root_hash), "treeSize": "5",
                           "hashes": [b64(h) for h in path],
                           "checkpoint": {"envelope": _note(
                               "rekor.clamp.test - 42", 5, root_hash,
                               lines + (extra(text) if extra else []))}},
        "canonicalizedBody": payload["body"]}]
    return doc


@pytest.mark.parametrize("second", ["witness", "bad line by the log's key"])
def test_a_rekor_v1_checkpoint_with_a_line_rekor_refuses_is_refused(
        pki: TestSigstore, tile: TileLog, key: ec.EllipticCurvePrivateKey, second: str) -> None:
    """rekor's SignedNote.Verify (sigstore-go, and sigstore-python alike) wants every line the
    log key's and verifying: a cosignature or a bad line beside the log's good one refuses."""
    other = ec.generate_private_key(ec.SECP256R1())
    hint = b"\x01\x02\x03\x04" if second == "witness" else pki.rekor.log_id[:4]

    def extra(text: bytes) -> list[str]:
        return [_line("witness.clamp.test", hint, other.sign(text, ec.ECDSA(hashes.SHA256())))]

    with pytest.raises(TrustError) as info:
        _verify(pki, tile, key, _v1(pki, key, extra=extra))
    assert info.value.check == "checkpoint", str(info.value)


def test_a_sharded_rekor_v1_entry_passes(pki: TestSigstore, tile: TileLog,
                                         key: ec.EllipticCurvePrivateKey) -> None:
    """Rekor v1's entry `logIndex` is the global index across shards, its proof's the index in
    the active shard's tree (public-good bundles differ by millions: the conformance case
    happy-path-v0.2 has 27246492 and 23083061); the SET binds the global one."""
    result = _verify(pki, tile, key, _v1(pki, key))
    assert result.ok and result.log_index == 3
    result = _verify(pki, tile, key, _v1(pki, key, shard_offset=4_163_431))
    assert result.ok and result.log_index == 4_163_434 and result.time_source == "set"


@pytest.mark.parametrize("log", ["v1", "v2"])
def test_an_entry_whose_kind_version_is_not_its_bodys_is_refused(
        pki: TestSigstore, tile: TileLog, key: ec.EllipticCurvePrivateKey, log: str) -> None:
    """sigstore-go's ParseTransparencyLogEntry refuses an entry whose `kindVersion` is not its
    body's kind and apiVersion; clamp read the body alone (the kindVersion is unsigned, so
    nothing was forged, but the bundle is one sigstore-go refuses). Red team 13."""
    doc = _v1(pki, key) if log == "v1" else _v2(tile, key)
    entry = doc["verificationMaterial"]["tlogEntries"][0]
    assert _verify(pki, tile, key, doc).ok
    for kind, version in (("hashedrekord", entry["kindVersion"]["version"]),
                          (entry["kindVersion"]["kind"], "0.0.3")):
        entry["kindVersion"] = {"kind": kind, "version": version}
        with pytest.raises(TrustError) as info:
            _verify(pki, tile, key, doc)
        assert info.value.check == "tlog-body", str(info.value)


def test_checkpoint_kinds_and_hosts_are_read_as_go_reads_them() -> None:
    assert is_rekor_v1_checkpoint("rekor.sigstore.dev - 1193050959916656506\n1\nAA==\n\n")
    assert not is_rekor_v1_checkpoint("log2025-1.rekor.sigstore.dev\n1\nAA==\n\n")
    assert not is_rekor_v1_checkpoint("rekor - 12x\n1\nAA==\n\n")
    assert not is_rekor_v1_checkpoint("rekor - 12\n1\n")  # fewer than four lines
    assert go_hostname("https://log2025-1.rekor.sigstore.dev") == "log2025-1.rekor.sigstore.dev"
    assert go_hostname("https://u:p@Rekor.Example:8443/api?q") == "Rekor.Example"
    assert go_hostname("http://[::1]:3000") == "::1"
