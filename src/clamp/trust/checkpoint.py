"""A bundle entry's inclusion proof and its signed checkpoint, read as sigstore-go reads them.

sigstore-go tells the two kinds of log apart by the checkpoint's origin line (`hasRekorV1STH`):

- **Rekor v1** (`rekor.sigstore.dev - <tree ID>`): rekor's `VerifyCheckpointSignature`, whose
  `SignedNote.Verify` needs *every* signature line to carry the log key's hint and verify (as
  sigstore-python's `SignedNote.verify`). The proof's `logIndex` is the index in the shard's
  tree, which differs from the entry's global (virtual) `logIndex` once the log has sharded,
  so the two are not compared; the SET binds the entry's.
- **Rekor v2** (rekor-tiles, a C2SP checkpoint): transparency-dev's `ParseCheckpoint` with a
  note verifier named after the log's host (its `baseUrl` in the trusted root). The origin line
  must be that host; the lines signed under that name with the log key's hint must verify, at
  least one of them; other lines (witness cosignatures, other keys) are ignored. The inclusion
  is verified at the *entry's* `logIndex` (rekor-tiles' `VerifyInclusionProof`), which is then
  the only index there is: a proof `logIndex` that differs is refused rather than trusted.

Before session 13 clamp read both alike: any one line with the key hint that verified, no
origin check, and the entry's `logIndex` reported without being proved — a Rekor v2 entry whose
index was edited verified and put the edited index into the record, and checkpoints sigstore-go
refuses (a bad line beside a good one, another origin) verified.
"""

from __future__ import annotations

from typing import Any

from clamp.trust.encoding import as_int, as_str, b64decode, opt_dict, opt_list
from clamp.trust.errors import InvalidSignatureError
from clamp.trust.errors import MalformedError as M
from clamp.trust.root import LogInstance, TrustedRoot
from clamp.trust.tlog import LogEntry, find_log, verify_inclusion, verify_with_log

MAX_NOTE = 64 * 1024
#: Signature lines read from one note (golang.org/x/mod/sumdb/note allows 100).
MAX_NOTE_SIGNATURES = 100
_CHECK = "checkpoint"


def is_rekor_v1_checkpoint(envelope: str) -> bool:
    """sigstore-go's `hasRekorV1STH`: at least four lines, the first ending in ` - <digits>`
    (Go's `.* - [0-9]+$`, read here without a regular expression)."""
    lines = envelope.split("\n")
    if len(lines) < 4:
        return False
    _, sep, tree_id = lines[0].rpartition(" - ")
    return bool(sep) and tree_id.isascii() and tree_id.isdigit()


def go_hostname(url: str) -> str:
    """Go's `url.Parse(u).Hostname()`: the host without user info, port or IPv6 brackets, in
    the case it was written (Python's `urlsplit().hostname` lowercases it)."""
    _, _, rest = url.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.partition(":")[0]


def _signature_lines(block: str) -> list[tuple[str, bytes]]:
    """(name, hint + signature) of each `— name base64` line of a note's signature block."""
    lines = [line for line in block.split("\n") if line]
    if not lines:
        raise InvalidSignatureError(_CHECK, "signed note carries no signature")
    if len(lines) > MAX_NOTE_SIGNATURES:
        raise InvalidSignatureError(_CHECK, f"signed note carries more than "
                                    f"{MAX_NOTE_SIGNATURES} signatures")
    out = []
    for line in lines:
        if not line.startswith("\u2014 "):
            raise InvalidSignatureError(_CHECK, "malformed signature line")
        name, sep, b64 = line[2:].rpartition(" ")
        raw = b64decode(b64, check=_CHECK)
        if not sep or not name or len(raw) < 5:
            raise InvalidSignatureError(_CHECK, "malformed signature line")
        out.append((name, raw))
    return out


def verify_checkpoint(envelope: str, log: LogInstance, *, size: int, root_hash: bytes) -> bool:
    """A signed note (`origin\\nsize\\nroothash\\n[ext…]\\n\\n— name b64(hint+sig)\\n`) from the log
    key, committing to the same tree size and root hash as the inclusion proof. Returns whether
    it is a Rekor v1 checkpoint (the module docstring says how each kind is read)."""
    if len(envelope) > MAX_NOTE or "\n\n" not in envelope:
        raise InvalidSignatureError(_CHECK, "malformed signed note")
    text, _, sig_block = envelope.partition("\n\n")
    header = text.split("\n")
    if len(header) < 3 or not header[0]:
        raise InvalidSignatureError(_CHECK, "checkpoint needs origin, size and root hash")
    # ASCII digits only, as Go's strconv.ParseUint reads the size: `str.isdigit` takes "²",
    # which int() then refuses with a ValueError (a crash, before the note's signature).
    if not (header[1].isascii() and header[1].isdigit()) or int(header[1]) != size:
        raise InvalidSignatureError(_CHECK, "checkpoint tree size does not match the proof")
    if b64decode(header[2], check=_CHECK) != root_hash:
        raise InvalidSignatureError(_CHECK, "checkpoint root hash does not match the proof")
    signed = (text + "\n").encode()
    hint = log.log_id[:4]
    signatures = _signature_lines(sig_block)
    if is_rekor_v1_checkpoint(envelope):
        for _, raw in signatures:  # rekor's SignedNote.Verify: every line, by the log key
            if raw[:4] != hint:
                raise InvalidSignatureError(_CHECK, "a checkpoint signature line is not the "
                                            "log key's (Rekor v1 checkpoints carry only its)")
            verify_with_log(log, raw[4:], signed, _CHECK)
        return True
    origin = go_hostname(log.base_url)
    if header[0] != origin:
        raise InvalidSignatureError(_CHECK, f"checkpoint origin {header[0][:100]!r} is not the "
                                    f"log's {origin[:100]!r} (its baseUrl's host)")
    ours = [raw for name, raw in signatures if name == origin and raw[:4] == hint]
    if not ours:
        raise InvalidSignatureError(_CHECK, "no checkpoint signature by the log "
                                    f"({origin[:100]}, key hint {hint.hex()})")
    for raw in ours:  # note.Open: a signature by a known key that fails refuses the note
        verify_with_log(log, raw[4:], signed, _CHECK)
    return False


def verify_proof(entry: LogEntry, proof: dict[str, Any], root: TrustedRoot) -> None:
    """The entry's inclusion proof and checkpoint, from a log of `root`."""
    log = find_log(root, entry.log_id)
    check = "inclusion-proof"
    index = as_int(proof.get("logIndex"), check=check, what="logIndex", error=M)
    size = as_int(proof.get("treeSize"), check=check, what="treeSize", error=M)
    root_hash = b64decode(as_str(proof.get("rootHash"), check=check, what="rootHash", error=M),
                          check=check, error=M)
    hashes = opt_list(proof.get("hashes"), check=check, what="hashes", limit=64, error=M)
    checkpoint = opt_dict(proof.get("checkpoint"), check=_CHECK, what="checkpoint",
                          error=M).get("envelope")
    verify_inclusion(entry.body, index, size,
                     [b64decode(as_str(h, check=check, what="hashes[]", error=M), check=check,
                                error=M) for h in hashes], root_hash)
    if not isinstance(checkpoint, str):
        raise InvalidSignatureError(_CHECK, "inclusion proof has no signed checkpoint")
    if not verify_checkpoint(checkpoint, log, size=size, root_hash=root_hash) \
            and index != entry.log_index:
        raise InvalidSignatureError(check, f"the entry's logIndex {entry.log_index} is not the "
                                    f"proof's {index} (a Rekor v2 entry is proved at its own)")
