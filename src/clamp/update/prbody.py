"""The pull request body: what changed, how each pin verified, what was rejected and why.

Deterministic for the same report apart from its timestamps (the footer's time and the dates
pinned), so re-running an update on an unchanged registry edits the pull request to the same text.
Every value that came from a registry or a dispatch input is treated as untrusted text: it is
put on one line, bounded, and escaped for Markdown tables and code spans.
"""

from __future__ import annotations

import re

from clamp.update.report import EntryReport, UpdateReport

MAX_TEXT = 300


def text_cell(value: str | None, *, limit: int = MAX_TEXT) -> str:
    """Untrusted text as a table cell: one line, bounded, no table or HTML breakout."""
    if not value:
        return ""
    one = " ".join(value.split())
    if len(one) > limit:
        one = one[:limit - 1] + "…"
    for char, escaped in (("\\", "\\\\"), ("|", "\\|"), ("<", "&lt;"), (">", "&gt;"),
                          ("`", "'"), ("*", "\\*"), ("_", "\\_"), ("[", "\\["), ("]", "\\]")):
        one = one.replace(char, escaped)
    # GitHub acts on plain text in a pull request body: `#12`, `owner/repo#12` and `GH-12` post a
    # cross-reference on that issue, an @mention notifies that user or team, and a URL or
    # `www.` name becomes a link. A signer identity is any certificate's (`…@refs/heads/x-#1`,
    # `https://evil.example/…` from a rejected signature): a zero-width space after the marker
    # keeps each one text. `#` first: the entity inserted for the others contains one.
    one = one.replace("#", "#&#8203;")
    one = _GH_REF.sub(lambda m: m.group(0) + "&#8203;", one)
    one = one.replace("://", "&#8203;://").replace("www.", "www&#8203;.")
    return one.replace("@", "@&#8203;")


# Linear: a fixed literal, matched case-insensitively (`gh-12`, `GH-12`).
_GH_REF = re.compile(r"(?i)gh-")


def code(value: str | None) -> str:
    """A digest, tag or id in a code span (backticks and pipes cannot occur in those, but a
    hostile registry's tag list is still checked rather than trusted)."""
    if not value:
        return "—"
    safe = " ".join(value.split()).replace("`", "'").replace("|", "\\|")
    return f"`{safe}`"


def how_verified(item: EntryReport) -> str:
    signing = item.signing
    if signing is None:
        return "—"
    if signing.identity:
        who = f"keyless {code(signing.identity)} (issuer {code(signing.issuer)})"
    elif signing.key_fingerprint:
        who = f"key {code('sha256:' + signing.key_fingerprint[:16])}…"
    else:
        who = "signature"
    log = f"log index {signing.log_index}" if signing.log_index is not None else "no log entry"
    kind = f", {signing.signature_kind}" if signing.signature_kind else ""
    return f"{who}; {log}{kind}"


#: GitHub refuses a pull request body longer than this many characters (422): a body over it
#: would fail the update workflow's `gh pr create` after the branch was pushed.
MAX_BODY = 65536
_CUT = ("", "**This body was cut to GitHub's limit of 65536 characters.** Every entry, "
        "with how it verified or why it was rejected, is in the run's provenance artifact "
        "(`rocm_provenance.json`) and its log.", "")


def render(report: UpdateReport, *, title: str = "Auto-update ROCm matrix") -> str:
    """The body, within GitHub's limit: past it, whole lines are dropped from the end of the
    tables and a note says so (the footer is kept)."""
    text = _render(report, title=title)
    if len(text) <= MAX_BODY:
        return text
    lines = text.rstrip("\n").split("\n")
    footer, body = lines[-2:], lines[:-2]
    budget = MAX_BODY - sum(len(line) + 1 for line in (*_CUT, *footer))
    kept: list[str] = []
    for line in body:
        if budget - (len(line) + 1) < 0:
            break
        kept.append(line)
        budget -= len(line) + 1
    return "\n".join([*kept, *_CUT, *footer]) + "\n"


def _render(report: UpdateReport, *, title: str) -> str:
    pinned = [e for e in report.entries if e.outcome in ("updated", "added")]
    rejected = [e for e in report.entries if e.outcome == "rejected"]
    problems = [e for e in report.entries if e.outcome in ("error", "missing")]
    drift = [e for e in report.entries if e.drift]
    unverified = [e for e in report.entries if e.unverified_pin]
    rollback = [e for e in report.entries if e.rollback]
    c = report.counts
    out = [f"## {title}", ""]
    out.append(f"`clamp update` examined {code(report.matrix)}: {c.updated} re-pinned, "
               f"{c.added} new, {c.rejected} rejected, {c.errors} errors, {c.current} current.")
    out.append("Only digests whose signatures verified against the matrix's trust policy were "
               "pinned; rejected candidates are listed below and were not written.")
    if report.changed:
        # Written before the matrix (clamp.update.commit): this line tells a body that outlived
        # an interrupted run from one whose change is in the matrix.
        out += ["", f"Matrix SHA-256 before: {code(report.sha256_before)}, after: "
                f"{code(report.sha256_after)}."]
    if report.requested_reasons:
        out += ["", f"Requested because: {text_cell(report.requested_reasons)}"]
    if unverified:
        out += ["", "### Pins that no longer verify", "",
                "These entries' current pins did not verify and no verified candidate replaced "
                "them: CI still runs them. Fix the signature or the trust policy, or remove "
                "the entry.", "",
                "| Entry | Pinned digest | Tag now names | Why |", "|---|---|---|---|"]
        for item in unverified:
            out.append(f"| {code(item.entry)} | {code(item.old_digest)} | "
                       f"{code(item.new_digest)} | {text_cell(item.pin_reason)} |")
    if rollback:
        out += ["", "### Possible rollback", "",
                "These tags moved to an image signed **before** the one pinned. It verified, "
                "so it is pinned, but check that going back was intended (a withdrawn release) "
                "and not an older, vulnerable image put back under the tag.", "",
                "| Entry | Pinned (signed later) | Now pinned (signed earlier) |", "|---|---|---|"]
        for item in rollback:
            out.append(f"| {code(item.entry)} | {code(item.old_digest)} | "
                       f"{code(item.new_digest)} |")
    out += ["", "### Pinned", ""]
    if pinned:
        out += ["| Entry | Old digest | New digest | How it verified |", "|---|---|---|---|"]
        for item in pinned:
            old, new = code(item.old_digest), code(item.new_digest)
            if item.new_platform_digest:
                old += f"<br>platform: {code(item.old_platform_digest)}"
                new += f"<br>platform: {code(item.new_platform_digest)}"
            label = code(item.entry) + (" (new)" if item.outcome == "added" else
                                        " (renewed: pin was past its TTL)" if item.renewed
                                        else "")
            out.append(f"| {label} | {old} | {new} | {how_verified(item)} |")
    else:
        out.append("Nothing was pinned.")
    if rejected:
        out += ["", "### Rejected candidates", "",
                "| Entry | Tag | Candidate digest | Check | Reason |", "|---|---|---|---|---|"]
        for item in rejected:
            out.append(f"| {code(item.entry)} | {code(item.tag)} | {code(item.new_digest)} | "
                       f"{code(item.check)} | {text_cell(item.reason)} |")
    if drift:
        out += ["", "### Tag drift", "", "| Entry | Pinned | Tag now names | Result |",
                "|---|---|---|---|"]
        for item in drift:
            result = {"updated": "re-pinned (verified)", "rejected": "not pinned (rejected)"
                      }.get(item.outcome, item.outcome)
            if item.rollback:
                result += "; signed before the pin: possible rollback"
            out.append(f"| {code(item.entry)} | {code(item.old_digest)} | "
                       f"{code(item.new_digest)} | {result} |")
    if problems:
        out += ["", "### Not checked", "", "| Entry | Tag | Problem |", "|---|---|---|"]
        for item in problems:
            what = "tag not found" if item.outcome == "missing" else text_cell(item.reason)
            out.append(f"| {code(item.entry)} | {code(item.tag)} | {what} |")
    out += ["", "---",
            f"Generated by clamp {text_cell(report.tool_version)} at "
            f"{report.generated_at.strftime('%Y-%m-%dT%H:%M:%SZ')}."]
    return "\n".join(out) + "\n"
