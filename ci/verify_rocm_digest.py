#!/usr/bin/env python3
"""The origin's verifier, kept for its users, on clamp's verification.

    ci/verify_rocm_digest.py IMAGE [--matrix M] [--policy P]

as the origin's CI called it: IMAGE is the resolver's output (`repo:VERSION-OS[@digest]`), the
matrix and policy default to the files beside this script. The exit code is the origin's, worked
out here from clamp's findings for that entry (not from clamp's own exit codes): 0 ok, 1 warning,
2 failure, 3 signature failure. With PROVENANCE_OUTPUT set, the origin's provenance document is
written there. Without IMAGE it is `clamp verify --matrix M ARGS` (clamp's exit codes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OK, WARN, FAIL, SIGNATURE_FAIL = 0, 1, 2, 3


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _load(matrix: Path, policy: Path | None) -> Any:
    from clamp.matrix import load, load_text
    from clamp.matrix.source import read_text

    if policy is None:
        return load(matrix)
    raw, text = read_text(matrix)
    if policy.is_file():
        policy_raw, policy_text = read_text(policy)
    else:  # the origin's Policy.load: no file, its defaults
        _say(f"warning: {policy}: policy file not found: using the origin's defaults")
        policy_raw, policy_text = b"", ""
    return load_text(text, matrix, raw=raw, policy_text=policy_text, policy_raw=policy_raw,
                     policy_path=policy)


def _origin_policy(loaded: Any) -> Any:
    from clamp.matrix.original import OriginPolicy

    if loaded.origin_policy is not None:
        return loaded.origin_policy
    defaults = loaded.model.defaults  # a native matrix: its own policy, signatures enforced
    return OriginPolicy(mode=defaults.policy, require_signature=defaults.require_signature,
                        attest_mode="enforce" if defaults.require_signature else "none")


def _classify(status: int, policy: Any) -> int:
    """The origin's classify_status: a failure is a warning unless the mode is strict
    (auto_update dispatched the update workflow, which clamp's run has done)."""
    if status != FAIL:
        return status
    return FAIL if policy.mode == "strict" else WARN


async def _verify_entry(loaded: Any, version: str, os_name: str) -> Any:
    from clamp.cli.common import client_options
    from clamp.exitcodes import for_matrix
    from clamp.oci.store import Stores
    from clamp.verify.run import run_matrix

    async with Stores(client_options([])) as stores:
        return await run_matrix(loaded, stores, exit_code_of=for_matrix, version=version,
                                os_name=os_name)


def verify(image: str, matrix: Path, policy_path: Path | None) -> int:
    loaded = _load(matrix, policy_path)
    for warning in loaded.warnings:
        _say(f"warning: {warning}")
    policy = _origin_policy(loaded)
    base, _, resolved_digest = image.partition("@")
    if ":" not in base.rsplit("/", 1)[-1]:
        raise ValueError(f"Image reference must include a tag: {image}")
    repo, tag = base.rsplit(":", 1)
    if "-" not in tag:
        raise ValueError(f"Unable to parse version/os from tag '{tag}'")
    version, os_name = tag.split("-", 1)
    entry = next((e for e in loaded.model.images if e.version == version and e.os == os_name),
                 None)
    if entry is None:
        _say(f"No matrix entry for {tag}")
        return FAIL if policy.mode == "strict" else WARN
    if entry.digest is None:
        _say(f"Matrix digest missing for {tag}")
        return FAIL if policy.mode == "strict" else WARN
    run = asyncio.run(_verify_entry(loaded, version, os_name))
    record = next(r for r in run.document.records if r.entry == entry.id)
    findings = [f.split(":", 1)[0] for f in record.findings]
    if record.tagState == "missing":
        _say(f"Unable to fetch remote digest for {tag}")
        return FAIL if policy.mode == "strict" else WARN
    if record.tagState == "error" or "registry" in findings:
        raise RuntimeError("; ".join(record.findings) or "registry error")
    status = OK
    if resolved_digest and resolved_digest != entry.digest:
        _say(f"Resolver digest {resolved_digest} differs from matrix digest {entry.digest}")
        status = FAIL
    if record.tagState == "drift" or "integrity" in findings:
        _say(f"Digest drift detected for {tag}: matrix={entry.digest}, "
             f"remote={record.currentTagDigest}")
        status = FAIL
    if record.stale:
        _say(f"Digest for {tag} is {record.ageDays} days old (TTL={record.ttlDays}).")
        status = max(status, WARN)
    signed_for = image if resolved_digest else f"{repo}:{tag}@{entry.digest}"
    algorithm = entry.digest.split(":", 1)[0]
    provenance: dict[str, Any]
    if policy.checks_signature:
        if record.trustStatus == "valid":
            provenance = {"status": "verified", "subject": f"{repo}",
                          "issuer": record.issuer, "logIndex": record.logIndex,
                          "timestamp": record.timestamp.time.isoformat().replace("+00:00", "Z")
                          if record.timestamp.time else None}
            print(f"[PROVENANCE] Verified signature for {tag} (issuer={record.issuer}).")
        else:
            error = "; ".join(f for f in record.findings if f.startswith("signature")) or \
                record.trustStatus
            _say(f"Signature verification failed for {tag}: {error}")
            if policy.signature_fatal:
                _write(signed_for, policy, {
                    "status": "failed", "error": error, "timestamp": _now(),
                    "digestAlgorithm": algorithm,
                    "policyDecision": _decision(policy, SIGNATURE_FAIL),
                    "trustStatus": "invalid"})
                return SIGNATURE_FAIL
            status = max(status, WARN)
            provenance = {"status": "unverified", "error": error}
    else:
        provenance = {"status": "skipped", "reason": "signature_not_required"}
    final = _classify(status, policy)
    if provenance.get("timestamp") is None:
        provenance["timestamp"] = _now()
    provenance["digestAlgorithm"] = algorithm
    provenance["policyDecision"] = _decision(policy, final)
    provenance["trustStatus"] = ("expired" if record.stale else
                                 {"verified": "valid", "unverified": "invalid",
                                  "skipped": "unsigned"}[provenance["status"]])
    _write(signed_for, policy, provenance)
    return final


def _decision(policy: Any, status: int) -> str:
    return (f"mode={policy.mode}|require_sig={policy.require_signature}"
            f"|attest={policy.attest_mode}|status={status}")


def _write(image: str, policy: Any, provenance: dict[str, Any]) -> None:
    """The origin's document at $PROVENANCE_OUTPUT (nothing without it)."""
    import os

    path = os.environ.get("PROVENANCE_OUTPUT")
    if not path:
        return
    from clamp.atomic import write_atomic

    document = {"image": image, "policyMode": policy.mode,
                "requireSignature": policy.require_signature, "attestMode": policy.attest_mode,
                "provenance": provenance}
    try:
        write_atomic(Path(path), json.dumps(document, indent=2))
    except Exception as exc:  # the origin reported it and went on
        _say(f"Failed to write provenance output: {exc}")


def main(argv: list[str] | None = None) -> int:
    from clamp.cli import streams

    streams.guard()  # a stdout that cannot take the output fails, as clamp's own commands
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0].startswith("-"):
        from clamp.cli.main import app, invoke

        if not {"--matrix", "-m", "--image", "-i", "--help"} & set(args):
            args = ["--matrix", str(HERE / "rocm_matrix.yml"), *args]
        return invoke(app, ["verify", *args], prog_name="verify_rocm_digest.py")
    parser = argparse.ArgumentParser(prog="verify_rocm_digest.py",
                                     description="Verify ROCm container digest integrity")
    parser.add_argument("image", help="Image reference from the resolver (with optional digest)")
    parser.add_argument("--matrix", type=Path, default=HERE / "rocm_matrix.yml")
    parser.add_argument("--policy", type=Path, default=None,
                        help="rocm_policy.yml (default: the one beside the matrix)")
    parsed = parser.parse_args(args)
    try:
        return verify(parsed.image, parsed.matrix, parsed.policy)
    except Exception as exc:  # the origin's catch-all: any error is a failure
        _say(f"Verification error: {exc}")
        return FAIL


def _run() -> int:
    """`main()` as a script: anything escaping it (clamp not importable, a broken install) is
    the origin's failure, 2. Why: Python's own crash code is 1, which in the origin's table
    means *warnings*, so a verifier that never ran would have read as one that passed with
    warnings."""
    try:
        return main()
    except Exception as exc:
        _say(f"Verification error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        return FAIL


if __name__ == "__main__":
    sys.exit(_run())
