"""`clamp provenance`: check a rocm_provenance.json and the VSAs made from it.

`check`: the workflows' proof that `clamp verify` ran and wrote this matrix's evidence.
`verify`: an auditor's re-verification, offline, of every record from the evidence it keeps (exit
0 when every record's recorded verdict is reproduced, failed records included; 11 when any is
not, each such record named on one line with the check that did not reproduce).
`verify-vsa`: the signed verification summaries `clamp verify --vsa` wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from clamp.cli.common import MATRIX_OPTION

if TYPE_CHECKING:
    from clamp.verify.provenance import ProvenanceDocument

provenance_app = typer.Typer(name="provenance", no_args_is_help=True, add_completion=False,
                             rich_markup_mode=None,
                             help="Check rocm_provenance.json files and the VSAs made from them.")

MAX_ROOT_FILE = 4 * 1024 * 1024


@provenance_app.command("check")
def check(
    file: Path = typer.Argument(..., help="The rocm_provenance.json to check."),
    matrix: Path = MATRIX_OPTION,
    version: str | None = typer.Option(None, "--version", help="The run selected only this "
                                       "version."),
    os_name: str | None = typer.Option(None, "--os", help="The run selected only this OS."),
) -> int:
    """Check that FILE is a valid provenance document (schemas/provenance.schema.json) written
    from MATRIX's current bytes, with one record per pinned entry selected.

    Exit codes: 0 it is; 64 it is missing, invalid, or not this matrix's.
    """
    from clamp.cli.common import load_matrix
    from clamp.cli.output import info
    from clamp.verify.provenance_check import check_provenance

    document = check_provenance(file, load_matrix(matrix), version=version, os_name=os_name)
    info(f"{file}: valid, {len(document.records)} records (one per pinned entry), "
         f"{len(document.skipped)} unpinned skipped, status {document.status} "
         f"(exit {document.exitCode})")
    return 0


@provenance_app.command("verify")
def verify(
    file: Path = typer.Argument(..., help="rocm_provenance.json written by clamp verify."),
    trusted_root: list[Path] = typer.Option(
        [], "--trusted-root", metavar="PATH",
        help="Trust only these roots (repeatable) and the shipped public-good one; without it "
             "the roots kept in the file are used."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    matrix: Path | None = typer.Option(
        None, "--matrix", "-m", help="Anchor the policies: every record must be for a pinned "
        "entry of this matrix (the commit the run used) and kept the policy it gives; without "
        "it the policies kept in the file are used."),
    version: str | None = typer.Option(None, "--version", help="With --matrix: the run "
                                       "selected only this version."),
    os_name: str | None = typer.Option(None, "--os", help="With --matrix: the run selected "
                                       "only this OS."),
) -> int:
    """Re-verify every record offline at the time its evidence records; refuse edited files.

    Exit codes: 0 every record's verdict reproduced; 11 a record (or the summary) is not
    reproduced from its evidence; 64 bad input.
    """
    import json

    from clamp.cli.output import error, info
    from clamp.cli.trust_flags import read_file
    from clamp.exitcodes import ExitCode

    roots = [read_file(p, "trusted root", MAX_ROOT_FILE) for p in trusted_root]
    document = _load(file)
    from importlib import resources

    from clamp.verify.reverify import reverify_document

    if roots:
        roots.append(resources.files("clamp.data").joinpath("trusted_root.json").read_bytes())
    report = reverify_document(document, roots or None)
    if matrix is not None:
        from clamp.cli.common import load_matrix
        from clamp.verify.anchor import anchor_to_matrix

        report.discrepancies += anchor_to_matrix(document, load_matrix(matrix),
                                                 version=version, os_name=os_name)
    if as_json:
        print(json.dumps({"file": str(file), "ok": report.ok, "records": report.records,
                          "reproduced": report.reproduced, "anchored": report.anchored,
                          "policiesAnchored": matrix is not None,
                          "discrepancies": [{"where": d.where, "check": d.check,
                                             "detail": d.detail}
                                            for d in report.discrepancies]}, indent=2))
    for discrepancy in report.discrepancies:
        error(f"{file}: {discrepancy}")
    if report.ok:
        info(f"{file}: all {report.records} records reproduced from their evidence "
             + ("(roots: --trusted-root" if report.anchored else
                "(roots: the file's own copies; pass --trusted-root to anchor them")
             + ("; policies: --matrix)" if matrix is not None else
                "; policies: the file's own; pass --matrix to anchor them)"))
        return int(ExitCode.OK)
    info(f"{file}: {report.records - report.reproduced} of {report.records} records not "
         "reproduced")
    return int(ExitCode.NOT_REPRODUCED)


@provenance_app.command("verify-vsa")
def verify_vsa(
    file: Path = typer.Argument(..., help="VSA file written by clamp verify --vsa (JSON lines)."),
    key: Path = typer.Option(..., "--key", help="PEM public key of the --vsa-key."),
    provenance: Path | None = typer.Option(
        None, "--provenance", help="Also require each VSA to agree with this provenance file's "
                                   "record for its image (digest, result, policy digest)."),
) -> int:
    """Verify the VSAs' DSSE signatures with KEY and print each image's result.

    Exit codes: 0 every line verified (and agrees with --provenance); 3 a signature or statement
    did not verify; 11 a VSA disagrees with the provenance; 64 bad input.
    """
    from clamp.cli.output import error, info
    from clamp.cli.trust_flags import read_file
    from clamp.exitcodes import ExitCode
    from clamp.trust.errors import TrustError
    from clamp.trust.keys import load_public_key
    from clamp.verify.vsa import MAX_VSA_FILE, check_vsa_lines

    public = load_public_key(read_file(key, "key", 64 * 1024), where=str(key))
    data = read_file(file, "VSA file", MAX_VSA_FILE)
    # Keyed by digest and the record the VSA's policy URI names (`<matrix>#<entry>`): two
    # entries may pin one digest under different trust, one passed and one failed.
    expected: dict[tuple[str, str | None], tuple[str, str | None]] | None = None
    if provenance is not None:
        document = _load(provenance)
        expected = {(r.digest, f"{document.matrix.path}#{r.entry}"):
                    ("PASSED" if r.policyDecision == "pass" else "FAILED",
                     r.evidence.policySha256 if r.evidence else None)
                    for r in document.records if r.digest}
    code, seen = ExitCode.OK, 0
    for checked in check_vsa_lines(data, public):
        if isinstance(checked, TrustError):
            error(f"{file}: {checked.check}: {checked.reason}")
            code = ExitCode.SIGNATURE_FAILED
            continue
        seen += 1
        if expected is not None:
            want = expected.get((checked.subject, checked.policy_uri))
            if want != (checked.result, checked.policy_digest):
                error(f"{file}: line {checked.line}: {checked.subject}: the VSA says "
                      f"{checked.result} under policy {checked.policy_digest}, the provenance "
                      + (f"{want[0]} under {want[1]}" if want else "has no record for it"))
                code = max(code, ExitCode.NOT_REPRODUCED) if code != ExitCode.SIGNATURE_FAILED \
                    else code
                continue
        from clamp.cli.output import visible

        print(visible(f"{checked.subject} {checked.result} {checked.resource}"))
    if seen == 0 and code == ExitCode.OK:
        error(f"{file}: no VSA found")
        return int(ExitCode.BAD_INPUT)
    if code == ExitCode.OK:
        info(f"{file}: {seen} VSAs verified with {key}")
    return int(code)


def _load(file: Path) -> ProvenanceDocument:
    """The file, read strictly (clamp.verify.provenance_check.parse_document)."""
    from clamp.errors import BadInputError
    from clamp.files import read_at_most
    from clamp.telemetry.jsonfile import MAX_DOCUMENT
    from clamp.verify.provenance_check import parse_document

    try:
        raw = read_at_most(file, MAX_DOCUMENT)
    except OSError as exc:
        raise BadInputError(f"cannot read provenance file: {exc.strerror}",
                            where=str(file)) from None
    if len(raw) > MAX_DOCUMENT:
        raise BadInputError(f"provenance file is larger than {MAX_DOCUMENT // 2**20} MiB",
                            where=str(file))
    return parse_document(raw, str(file))


def register(app: typer.Typer) -> None:
    app.add_typer(provenance_app)
