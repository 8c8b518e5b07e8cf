"""Is this rocm_provenance.json the one this run of `clamp verify --matrix` wrote?

A CI step that only looks at the exit code passes when nothing ran at all (a stand-in, a broken
wrapper that exits 0). The workflows therefore also require the evidence: a file that validates
against the provenance schema (the model `schemas/provenance.schema.json` is generated from),
written from the same matrix bytes the step has, with exactly one record per pinned entry the
run selected and the unpinned ones listed as skipped. The step removes any old file first, so a
file that passes was written by this run.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from clamp.errors import BadInputError
from clamp.files import read_at_most
from clamp.matrix import LoadedMatrix
from clamp.strictjson import StrictJSONError, loads_strict
from clamp.verify.provenance import ProvenanceDocument

#: 64 MiB: about 20,000 records; a bigger file is not one clamp wrote for a matrix.
MAX_PROVENANCE = 64 * 1024 * 1024


def check_provenance(path: Path, loaded: LoadedMatrix, *, version: str | None = None,
                     os_name: str | None = None) -> ProvenanceDocument:
    """The document, if it is this run's; otherwise a one-line BadInputError naming `path`."""
    where = str(path)
    try:
        raw = read_at_most(path, MAX_PROVENANCE)
    except FileNotFoundError:
        raise BadInputError("no provenance file: clamp verify did not write one", where=where
                            ) from None
    except OSError as exc:
        raise BadInputError(f"cannot read provenance: {exc.strerror or exc}", where=where
                            ) from None
    if len(raw) > MAX_PROVENANCE:
        raise BadInputError(f"provenance larger than {MAX_PROVENANCE} bytes", where=where)
    document = parse_document(raw, where)
    if document.matrix.sha256 != loaded.sha256:
        raise BadInputError(f"written for other matrix bytes (sha256 {document.matrix.sha256}, "
                            f"{loaded.path} is {loaded.sha256})", where=where)
    wanted = [e.id for e in loaded.matching(version, os_name, pinned_only=True)]
    have = Counter(record.entry for record in document.records)
    repeated = sorted(entry for entry, count in have.items() if count > 1)
    missing = [entry for entry in wanted if entry not in have]
    extra = sorted(set(have) - set(wanted))
    for what, ids in (("entries without a record", missing), ("records repeated", repeated),
                      ("records for entries not selected", extra)):
        if ids:
            raise BadInputError(f"{what}: {', '.join(ids)} (want one record per pinned entry "
                                "selected)", where=where)
    unpinned = {e.id for e in loaded.matching(version, os_name) if e.digest is None}
    if set(document.skipped) != unpinned:
        raise BadInputError(f"skipped lists {sorted(document.skipped)}, the matrix has "
                            f"unpinned {sorted(unpinned)}", where=where)
    if document.summary.total != len(document.records):
        raise BadInputError("summary.total does not count the records", where=where)
    return document


def parse_document(raw: bytes, where: str) -> ProvenanceDocument:
    """The provenance document in `raw`, read exactly as clamp writes it, or a BadInputError.

    Strict, because a file `provenance verify` calls true must not say something else to its
    other readers: a key twice (`"trustStatus": "invalid"` then `"valid"`: Python and jq keep
    the last, a first-wins reader the other), or a value of another JSON type than the schema's
    that pydantic's lax mode converts (`"digestVerified": "no"` read as false here and as a
    truthy string by a script; `"logIndex": 7.0`) was reproduced record by record (session
    13). Nothing clamp writes is refused: it writes no duplicate and every value in its type.
    """
    try:
        value = loads_strict(raw, limit=len(raw))
    except StrictJSONError as exc:
        raise BadInputError(f"not a valid provenance document: {exc}", where=where) from None
    try:  # strict types need JSON input: a datetime is a string there, never in Python
        return ProvenanceDocument.model_validate_json(json.dumps(value), strict=True)
    except ValidationError as exc:
        raise BadInputError(f"not a valid provenance document: {_first_error(exc)}",
                            where=where) from None


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(part) for part in first.get("loc", ())) or "(document)"
    return f"{loc}: {first.get('msg', 'invalid')}"
