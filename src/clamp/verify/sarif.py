"""SARIF 2.1.0 for `clamp verify --matrix --sarif FILE`, so GitHub code scanning shows findings.

One result per entry that did not pass (failed: level `error`; warned or sent to update:
`warning`), located at the entry's list item in the matrix file (the line the GitHub annotations
use). The rule is the entry's most telling finding kind (`signature`, `drift`, ...: the checks of
docs/verify.md); the message is the entry's findings and the image. Only the parts of SARIF that
code scanning reads are written: tool.driver with its rules, results with ruleId/ruleIndex, level,
message.text, one physicalLocation, and a partialFingerprint so an alert is tracked across runs
by entry and check rather than by line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clamp import __version__

if TYPE_CHECKING:
    from clamp.verify.run import MatrixRun

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/ROCm/clamp"

# The finding kinds of clamp.verify.decision, most telling first: the rule an entry's result
# is filed under when it has several findings.
RULES: dict[str, str] = {
    "signature": "The image's signature did not verify against the entry's trust policy",
    "attestation": "A required attestation did not verify",
    "integrity": "The registry's bytes do not match the pinned digest or platform",
    "drift": "The tag no longer names the pinned digest",
    "missing-tag": "The tag the entry follows no longer exists",
    "stale": "The pin is older than its digest_ttl_days",
    "registry": "The registry could not be asked (unreachable or refused)",
}
LEVELS = {"fail": "error", "warn": "warning", "update": "warning"}


def _uri(path: Path) -> str:
    """The matrix path as code scanning wants it: relative to the checkout (the working
    directory in CI), '/'-separated; a file outside it is an absolute file: URI."""
    try:
        resolved, cwd = path.resolve(), Path.cwd().resolve()
    except OSError:
        return path.as_posix()
    if resolved.is_relative_to(cwd):
        return resolved.relative_to(cwd).as_posix()
    return resolved.as_uri()


def _rule_of(kinds: Sequence[str]) -> str:
    for kind in RULES:
        if kind in kinds:
            return kind
    return "signature"  # not reached: a decision other than pass always has a problem


def sarif_document(run: MatrixRun) -> dict[str, Any]:
    """The SARIF log for one matrix run (a JSON-ready dict)."""
    uri = _uri(run.loaded.path)
    results: list[dict[str, Any]] = []
    used: list[str] = []
    for record, decision in zip(run.document.records, run.decisions, strict=True):
        if record.policyDecision == "pass":
            continue
        kinds = [f.kind for f in decision.problems]
        rule = _rule_of(kinds)
        if rule not in used:
            used.append(rule)
        location: dict[str, Any] = {"artifactLocation": {"uri": uri}}
        line = run.loaded.entry_line(record.entry)
        if line is not None:
            location["region"] = {"startLine": line}
        reasons = "; ".join(f"{f.kind}: {f.text}" for f in decision.problems)
        fingerprint = hashlib.sha256(f"{record.entry}\0{rule}".encode()).hexdigest()
        results.append({
            "ruleId": rule,
            "level": LEVELS[record.policyDecision],
            "message": {"text": f"{record.entry} ({record.image}): {reasons} "
                                f"[{record.policyMode} -> {record.policyDecision}]"},
            "locations": [{"physicalLocation": location}],
            "partialFingerprints": {"clampEntryCheck/v1": fingerprint},
            "properties": {"entry": record.entry, "trustStatus": record.trustStatus,
                           "policyDecision": record.policyDecision,
                           "checks": sorted(set(kinds))},
        })
    rules = [{"id": rule, "name": rule.title().replace("-", ""),
              "shortDescription": {"text": RULES[rule]},
              "helpUri": f"{INFORMATION_URI}/blob/main/docs/verify.md",
              "defaultConfiguration": {"level": "error"}} for rule in used]
    for result in results:
        result["ruleIndex"] = used.index(result["ruleId"])
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {"name": "clamp", "version": __version__,
                                "informationUri": INFORMATION_URI, "rules": rules}},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }


def sarif_text(run: MatrixRun) -> str:
    return json.dumps(sarif_document(run), indent=2) + "\n"
