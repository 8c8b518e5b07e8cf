"""The telemetry section of a GitHub Actions job summary (GITHUB_STEP_SUMMARY), as Markdown.

A reader of the workflow run sees the headline numbers rounded as everywhere else
(`clamp.telemetry.numfmt`) and one row per image change with its verdict, so "did this image
change hurt?" is answered on the run's page. Everything taken from the data (image names,
signer identities, statuses) is escaped: a `|` in an image tag must not split the table, and
Markdown or HTML in a provenance file must not render.
"""

from __future__ import annotations

import re

from clamp.telemetry import numfmt
from clamp.telemetry.models import MIN_VERDICT_RECORDS, Change, ImageGroup, TelemetrySummary

_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")
_VERDICT = {"regressed": "🔴 **regressed**", "improved": "🟢 **improved**",
            "no evidence": "⚪ no evidence"}


def md(text: str) -> str:
    """Plain text safe inside a Markdown table cell."""
    flat = " ".join(text.split())
    html_safe = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # An @mention in a tag or signer would notify that user or team from the run's page.
    return _MARKDOWN.sub(r"\\\1", html_safe).replace("@", "@&#8203;")


def _image(digest: str | None, images: dict[str | None, ImageGroup]) -> str:
    img = images.get(digest)
    tag = numfmt.image_tag(img.image if img else None)
    # In a code span nothing renders as Markdown; a "`" would end it and a "|" would still split
    # the table row (GFM splits cells first), so the one is dropped and the other escaped.
    short = numfmt.short_digest(digest).replace("`", "").replace("|", "\\|")
    return (f"{md(tag)} " if tag else "") + f"`{short}`"


def _signer(img: ImageGroup | None) -> str:
    if img is None:
        return "unknown"
    ev = img.evidence
    return md(ev.trustStatus) + (f" · {md(ev.provenanceIdentity)}" if ev.provenanceIdentity
                                 else "")


def _few(c: Change) -> str:
    return f": {numfmt.too_few(*c.compared_records(), MIN_VERDICT_RECORDS)}" \
        if c.strata and c.too_few_records() else ""


def markdown(summary: TelemetrySummary) -> str:
    """The job summary section for one accumulated summary."""
    s = summary
    images = {img.digest: img for img in s.breakdown.byImage}
    current = images.get(s.provenanceDigest)
    lines = [
        "### Telemetry", "",
        "| sessions | records | mean stability | p95 duration | trust of the current image |",
        "|---:|---:|---:|---:|---|",
        f"| {numfmt.count(s.sessionFileCount)} | {numfmt.count(s.recordCount)} | "
        f"{numfmt.stability(s.mean)} | {numfmt.ms(s.p95)} | "
        f"{_signer(current) if current else md(s.trustStatus)} |", ""]
    if s.changes:
        lines += ["#### Image changes", "",
                  "| window | image change | new image: trust · signer | verdict | "
                  "Δ mean stability [95% CI] | Δ p95 duration [95% CI] |",
                  "|---|---|---|---|---:|---:|"]
        for c in s.changes:
            mean = numfmt.shift(c.adjustedMeanStabilityShift, c.adjustedMeanStabilityShiftCI)
            p95 = numfmt.shift(c.adjustedP95DurationShift, c.adjustedP95DurationShiftCI,
                               unit="ms")
            lines.append(
                f"| {md(c.windowAfter[:10])} | {_image(c.digestBefore, images)} → "
                f"{_image(c.digestAfter, images)} | {_signer(images.get(c.digestAfter))} | "
                f"{_VERDICT.get(c.verdict, md(c.verdict))}{_few(c)} | {mean} | {p95} |")
        lines += ["", "Shifts are compared within each backend and device, then combined, so "
                      "a change of the fleet's mix is not read as the image's effect.", ""]
    else:
        lines += ["No image change between windows.", ""]
    problems = []
    if s.untrustedSessions:
        problems.append(f"{numfmt.count(len(s.untrustedSessions))} session(s) ran images that "
                        "did not verify")
    if s.corruptFiles.count or s.invalidRecords.count:
        problems.append(f"{numfmt.count(s.corruptFiles.count)} corrupt file(s) and "
                        f"{numfmt.count(s.invalidRecords.count)} invalid record(s) left out")
    cards = s.gpuMetrics.cards
    if cards:
        vendors = {v: sum(1 for c in cards if c.vendor == v) for v in ("AMD", "NVIDIA")}
        problems.append("GPUs: " + ", ".join(f"{n} {v}" for v, n in vendors.items() if n)
                        + f" ({numfmt.count(s.gpuMetrics.snapshotCount)} snapshots)")
    lost = s.gpuMetrics.lostGpus
    if lost:
        problems.append(f"{numfmt.count(len(lost))} GPU(s) lost (the tool could not reach "
                        "them): " + ", ".join(f"{md(g.gpu)} ({md(g.reason)})" for g in lost[:5]))
    lines += [f"- {p}" for p in problems]
    return "\n".join(lines).rstrip() + "\n"
