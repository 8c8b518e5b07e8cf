"""`clamp provenance verify --matrix M`: anchor a provenance file's policies to the matrix.

`provenance verify` re-verifies every record with the policy the record kept, so it proves the
file is consistent, not that the signer was the one the matrix trusts: whoever can write the file
can replace a record's policy (its keys, its identities, its threshold), recompute
`policySha256`, and keep signatures of their own that then verify. `--trusted-root` anchors the
roots; this anchors the rest. Given the matrix (at the commit the run used), every record must
be for one of its pinned entries, with the entry's digest, image and platform, and its kept
policy must be, byte for byte (by RFC 8785 digest), the policy the matrix gives that entry —
built by the same code the run used (`PolicyCache`, `evidence.policy_evidence`). The matrix's
own bytes must be the ones the file names (`matrix.sha256`, and the policy file's for the
original layout).
"""

from __future__ import annotations

from clamp.errors import ClampError
from clamp.matrix import LoadedMatrix
from clamp.matrix.select import effective
from clamp.verify.entry import image_ref_of
from clamp.verify.evidence import RootCollector, policy_digest, policy_evidence
from clamp.verify.policy import PolicyCache
from clamp.verify.provenance import ProvenanceDocument
from clamp.verify.reverify import Discrepancy


def anchor_to_matrix(document: ProvenanceDocument, loaded: LoadedMatrix, *,
                     version: str | None = None, os_name: str | None = None
                     ) -> list[Discrepancy]:
    """Every way `document` is not what `loaded` would have the run write; empty when none.

    One record per pinned entry the run selected (`version`, `os_name`: its `--version`/`--os`),
    none twice: a strict run's failed records dropped, the summary and status rewritten to
    match, left a file every check above called true (session 13)."""
    out: list[Discrepancy] = []
    selected = [e.id for e in loaded.matching(version, os_name, pinned_only=True)]
    have = [record.entry for record in document.records]
    missing = [entry for entry in selected if entry not in have]
    twice = sorted({entry for entry in have if have.count(entry) > 1})
    for check, ids in (("records-missing", missing), ("records-repeated", twice)):
        if ids:
            out.append(Discrepancy("records", check, f"{', '.join(ids[:8])} (one record per "
                                   f"pinned entry of {loaded.path} selected)"))
    if document.matrix.sha256 != loaded.sha256:
        out.append(Discrepancy("matrix", "sha256", f"recorded {document.matrix.sha256}, "
                               f"{loaded.path} is {loaded.sha256}"))
    if (document.matrix.policySha256 or None) != (loaded.policy_sha256 or None):
        out.append(Discrepancy("matrix", "policySha256", f"recorded "
                               f"{document.matrix.policySha256}, the policy file is "
                               f"{loaded.policy_sha256}"))
    entries = {entry.id: entry for entry in loaded.model.images if entry.digest is not None}
    cache = PolicyCache(loaded)
    roots = RootCollector()
    for n, record in enumerate(document.records):
        where = f"records[{n}] ({record.entry})"
        entry = entries.get(record.entry)
        if entry is None:
            out.append(Discrepancy(where, "entry", f"{loaded.path} has no pinned entry "
                                   f"{record.entry!r}"))
            continue
        settings = effective(loaded.model, entry)
        ref = image_ref_of(entry, settings)
        for field, recorded, wanted in (("digest", record.digest, entry.digest),
                                        ("image", record.image, ref.reference),
                                        ("platform", record.platform, entry.platform)):
            if recorded != wanted:
                out.append(Discrepancy(where, field, f"recorded {recorded!r}, the matrix "
                                       f"gives {wanted!r}"))
        if record.evidence is None:
            continue  # reverify reports it as not reproduced
        try:
            wanted_policy = policy_evidence(cache.for_entry(entry, settings), settings.policy,
                                            roots)
        except ClampError as exc:
            out.append(Discrepancy(where, "policy", f"the matrix's policy cannot be built: "
                                   f"{exc}"))
            continue
        digest = policy_digest(wanted_policy)
        if record.evidence.policySha256 != digest:
            out.append(Discrepancy(where, "policy", "the record was verified with a policy "
                                   f"that is not the matrix's (sha256 "
                                   f"{record.evidence.policySha256[:16]}…, the matrix gives "
                                   f"{digest[:16]}…)"))
    return out


__all__ = ["anchor_to_matrix"]
