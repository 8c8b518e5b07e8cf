"""`clamp provenance verify`: every record decided again offline; every edited copy refused.

Real signatures: the demo world (keyless Fulcio+Rekor with SET, key, v0.3 bundle, unsigned,
tampered, wrong identity, drift) and `logged_world` (key + SET under tlog: required, a keyless
certificate that expired hours ago but was logged while valid, a SET logging another signature).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clamp.cli.main import app, invoke
from clamp.demo.scenario import DemoResult
from clamp.verify import evidence as evidence_module
from clamp.verify.evidence import PolicyEvidence, policy_digest
from tests.evidence.conftest import LoggedWorld

KEYED, KEYLESS = "6.4.4/ubuntu-24.04", "6.4.4/ubuntu-22.04/linux/amd64"
BUNDLE = "6.3.4/ubuntu-22.04"
UNSIGNED, TAMPERED, FORK = "6.2.4/ubuntu-22.04", "6.1.2/ubuntu-22.04", "6.0.2/ubuntu-22.04"
OTHER_DIGEST = "sha256:" + "0f" * 32


def clamp(*args: str) -> int:
    return invoke(app, list(args), prog_name="clamp")


def record(doc: dict[str, Any], entry: str) -> dict[str, Any]:
    return next(r for r in doc["records"] if r["entry"] == entry)


def index(doc: dict[str, Any], entry: str) -> int:
    return next(n for n, r in enumerate(doc["records"]) if r["entry"] == entry)


def flip(text: str) -> str:
    """One base64 payload with one byte changed (still valid base64)."""
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def rehash_policy(r: dict[str, Any]) -> None:
    """What a careful forger does: recompute the policy digest after editing the policy."""
    r["evidence"]["policySha256"] = policy_digest(
        PolicyEvidence.model_validate(r["evidence"]["policy"]))


# ---------------------------------------------------------------------------------------------
# Edits, by field family: (entry edited, the check the one-line error must name, the edit)

def edit_digest(doc: dict[str, Any]) -> None:
    r = record(doc, KEYED)
    r["image"] = r["image"].replace(r["digest"], OTHER_DIGEST)
    r["digest"] = OTHER_DIGEST


def edit_digest_everywhere(doc: dict[str, Any]) -> None:
    r = record(doc, KEYED)
    text = json.dumps(r).replace(r["digest"], OTHER_DIGEST)
    doc["records"][index(doc, KEYED)] = json.loads(text)


def edit_platform_digest(doc: dict[str, Any]) -> None:
    record(doc, KEYLESS)["platformDigest"] = OTHER_DIGEST


def edit_failed_to_valid(doc: dict[str, Any]) -> None:
    record(doc, TAMPERED)["trustStatus"] = "valid"


def edit_failed_verification_to_verified(doc: dict[str, Any]) -> None:
    good, bad = record(doc, KEYED), record(doc, TAMPERED)
    for field in ("trustStatus", "keyFingerprint", "signatureKind", "policyDecision",
                  "policyPath", "findings"):
        bad[field] = good[field]
    bad["verification"] = dict(good["verification"], manifest_digest=bad["digest"])


def edit_unsigned_decision(doc: dict[str, Any]) -> None:
    record(doc, UNSIGNED)["policyDecision"] = "pass"


def edit_policy_path(doc: dict[str, Any]) -> None:
    r = record(doc, TAMPERED)
    r["policyPath"] = r["policyPath"].replace("signature: invalid", "note: fine")


def edit_findings(doc: dict[str, Any]) -> None:
    record(doc, UNSIGNED)["findings"] = []


def edit_policy_mode(doc: dict[str, Any]) -> None:
    record(doc, KEYED)["policyMode"] = "strict"


def edit_policy_without_digest(doc: dict[str, Any]) -> None:
    record(doc, KEYED)["evidence"]["policy"]["mode"] = "strict"


def edit_policy_trusting_the_fork(doc: dict[str, Any]) -> None:
    r = record(doc, FORK)
    r["evidence"]["policy"]["trust"][0]["identities"][0]["subjectRegexp"] = r".*"
    rehash_policy(r)


def edit_policy_key(doc: dict[str, Any]) -> None:
    """The mirror key swapped for the keyless trust's place: a key the signature is not from."""
    r = record(doc, KEYED)
    from cryptography.hazmat.primitives.asymmetric import ec

    from clamp.trust.keys import PublicKey

    other = PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem.decode()
    r["evidence"]["policy"]["trust"][1]["keys"] = [other]
    rehash_policy(r)


def edit_layer_payload(doc: dict[str, Any]) -> None:
    sig = record(doc, KEYED)["evidence"]["subjects"][0]["signatures"][0]
    sig["data"] = flip(sig["data"])


def edit_set(doc: dict[str, Any]) -> None:
    sig = record(doc, KEYLESS)["evidence"]["subjects"][0]["signatures"][0]
    bundle = json.loads(sig["annotations"]["dev.sigstore.cosign/bundle"])
    bundle["Payload"]["integratedTime"] -= 3600
    sig["annotations"]["dev.sigstore.cosign/bundle"] = json.dumps(bundle)


def edit_certificate(doc: dict[str, Any]) -> None:
    fork = record(doc, FORK)["evidence"]["subjects"][0]["signatures"][0]["annotations"]
    ours = record(doc, KEYLESS)["evidence"]["subjects"][0]["signatures"][0]["annotations"]
    fork["dev.sigstore.cosign/certificate"] = ours["dev.sigstore.cosign/certificate"]


def edit_bundle_bytes(doc: dict[str, Any]) -> None:
    sig = record(doc, BUNDLE)["evidence"]["subjects"][0]["signatures"][0]
    sig["data"] = flip(sig["data"])


def edit_signatures_removed(doc: dict[str, Any]) -> None:
    record(doc, KEYED)["evidence"]["subjects"][0]["signatures"] = []


def edit_evidence_removed(doc: dict[str, Any]) -> None:
    record(doc, KEYED)["evidence"] = None


def edit_timestamp(doc: dict[str, Any]) -> None:
    record(doc, KEYLESS)["timestamp"]["time"] = "2020-01-01T00:00:00Z"


def edit_identity(doc: dict[str, Any]) -> None:
    record(doc, KEYLESS)["identity"] = "https://github.com/ROCm/rocm-images/x@refs/tags/v9"


def edit_log_index(doc: dict[str, Any]) -> None:
    record(doc, KEYLESS)["logIndex"] += 1


def edit_root_bytes(doc: dict[str, Any]) -> None:
    root = next(r for r in doc["roots"] if r["source"] != "embedded:sigstore-public-good")
    root["data"] = flip(root["data"])


def edit_root_digest_consistently(doc: dict[str, Any]) -> None:
    """A root swapped for another, every digest that names it rewritten to match."""
    from clamp.trust.pki import TestSigstore

    root = next(r for r in doc["roots"] if r["source"] != "embedded:sigstore-public-good")
    data = TestSigstore().trusted_root_json()
    old, new = root["sha256"], hashlib.sha256(data).hexdigest()
    root.update(sha256=new, data=base64.b64encode(data).decode())
    for r in doc["records"]:
        for trust in r["evidence"]["policy"]["trust"]:
            if trust["trustedRootSha256"] == old:
                trust["trustedRootSha256"] = new
        rehash_policy(r)


def edit_summary(doc: dict[str, Any]) -> None:
    doc["summary"]["valid"] += 1


def edit_status(doc: dict[str, Any]) -> None:
    doc["status"], doc["exitCode"] = "verified", 0


def edit_entry_id(doc: dict[str, Any]) -> None:
    record(doc, KEYED)["os"] = "ubuntu-22.04"


def edit_image_tag(doc: dict[str, Any]) -> None:
    r = record(doc, KEYED)
    r["image"] = r["image"].replace(":6.4.4-ubuntu-24.04@", ":latest@")


EDITS: list[tuple[Callable[[dict[str, Any]], None], str, str]] = [
    (edit_digest, KEYED, "digest"),
    (edit_digest_everywhere, KEYED, "verification.verdict"),
    (edit_platform_digest, KEYLESS, "platformDigest"),
    (edit_failed_to_valid, TAMPERED, "trustStatus"),
    (edit_failed_verification_to_verified, TAMPERED, "verification.verdict"),
    (edit_unsigned_decision, UNSIGNED, "policyDecision"),
    (edit_policy_path, TAMPERED, "policyPath"),
    (edit_findings, UNSIGNED, "findings"),
    (edit_policy_mode, KEYED, "policyMode"),
    (edit_policy_without_digest, KEYED, "policy-digest"),
    (edit_policy_trusting_the_fork, FORK, "verification.verdict"),
    (edit_policy_key, KEYED, "verification.verdict"),
    (edit_layer_payload, KEYED, "verification.verdict"),
    (edit_set, KEYLESS, "verification.verdict"),
    (edit_certificate, FORK, "verification.verdict"),
    (edit_bundle_bytes, BUNDLE, "verification.verdict"),
    (edit_signatures_removed, KEYED, "verification.verdict"),
    (edit_evidence_removed, KEYED, "evidence"),
    (edit_timestamp, KEYLESS, "timestamp.time"),
    (edit_identity, KEYLESS, "identity"),
    (edit_log_index, KEYLESS, "logIndex"),
    (edit_root_bytes, KEYLESS, "trusted-root"),
    (edit_root_digest_consistently, KEYLESS, "verification.verdict"),
    (edit_summary, "", "valid"),
    (edit_status, "status", "status"),
    (edit_entry_id, KEYED, "entry"),
    (edit_image_tag, KEYED, "digest"),
]


@pytest.fixture(scope="module")
def original(demo_world: DemoResult) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(demo_world.provenance.read_text())
    return doc


def test_the_demo_provenance_is_reproduced(demo_world: DemoResult,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert clamp("provenance", "verify", str(demo_world.provenance)) == 0
    assert "all 7 records reproduced" in capsys.readouterr().err


def test_anchored_to_the_auditors_root(demo_world: DemoResult,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert clamp("provenance", "verify", str(demo_world.provenance), "--trusted-root",
                 str(demo_world.trusted_root)) == 0
    assert "roots: --trusted-root" in capsys.readouterr().err


def test_a_root_the_auditor_does_not_trust_is_refused(demo_world: DemoResult,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from clamp.trust.pki import TestSigstore

    other = demo_world.out / "other-root.json"
    other.write_bytes(TestSigstore().trusted_root_json())
    assert clamp("provenance", "verify", str(demo_world.provenance), "--trusted-root",
                 str(other)) == 11
    err = capsys.readouterr().err
    assert f"records[{0}] ({KEYED}): trusted-root: trust rocm-release: root " in err
    assert "is none of the --trusted-root files" in err


@pytest.mark.parametrize(("edit", "entry", "check"), EDITS, ids=[e[0].__name__ for e in EDITS])
def test_every_edited_copy_is_refused(original: dict[str, Any], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str],
                                      edit: Callable[[dict[str, Any]], None], entry: str,
                                      check: str) -> None:
    doc = copy.deepcopy(original)
    edit(doc)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc))
    assert clamp("provenance", "verify", str(path)) == 11
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    where = (f"records[{index(doc, entry)}] ({entry})" if "/" in entry
             else entry or "summary")
    assert any(f"{where}: {check}:" in line for line in errors), errors
    assert all(line.startswith(f"error: {path}: ") for line in errors)


def test_the_unedited_copy_passes_the_same_path(original: dict[str, Any], tmp_path: Path) -> None:
    """The honest twin of every edit: the same file, re-serialised, is reproduced."""
    path = tmp_path / "copy.json"
    path.write_text(json.dumps(original))
    assert clamp("provenance", "verify", str(path)) == 0


def test_failed_records_that_fail_again_are_consistent(demo_world: DemoResult,
                                                       tmp_path: Path) -> None:
    matrix = demo_world.matrix.parent / f"strict-{tmp_path.name}.yml"
    matrix.write_text(demo_world.matrix.read_text().replace("policy: warn", "policy: strict"))
    out = tmp_path / "strict.json"
    assert clamp("verify", "--matrix", str(matrix), "-o", str(out)) == 3
    doc = json.loads(out.read_text())
    assert {r["policyDecision"] for r in doc["records"]} == {"pass", "fail"}
    assert clamp("provenance", "verify", str(out)) == 0


def test_logged_signatures_reproduce_with_the_images_gone(logged_world: LoggedWorld,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "logged.json"
    assert clamp("verify", "--matrix", str(logged_world.matrix), "-o", str(out)) == 3
    doc = json.loads(out.read_text())
    statuses = {r["entry"]: (r["trustStatus"], r["timestamp"]["source"]) for r in doc["records"]}
    assert statuses == {"9.1.0/ubuntu-24.04": ("valid", "SET"),
                        "9.2.0/ubuntu-24.04": ("valid", "SET"),
                        "9.3.0/ubuntu-24.04": ("invalid", None),
                        "9.4.0/ubuntu-24.04": ("valid", "TSA")}
    stamped = record(doc, "9.4.0/ubuntu-24.04")["evidence"]["subjects"][0]["signatures"][0]
    assert "dev.sigstore.cosign/rfc3161timestamp" in stamped["annotations"]
    aside = tmp_path / "layout-gone"
    shutil.move(logged_world.layout, aside)  # the registry's content is gone
    try:
        assert clamp("provenance", "verify", str(out), "--trusted-root",
                     str(logged_world.trusted_root)) == 0
    finally:
        shutil.move(aside, logged_world.layout)


def test_an_expired_certificate_is_judged_at_its_logged_time(logged_world: LoggedWorld,
                                                             tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    """The keyless certificate expired hours ago; logged inside its 10 minutes it verifies, as
    cosign verifies at the integrated time. Moving the logged time outside its window does not."""
    out = tmp_path / "logged.json"
    clamp("verify", "--matrix", str(logged_world.matrix), "-o", str(out))
    doc = json.loads(out.read_text())
    expired = record(doc, "9.2.0/ubuntu-24.04")
    assert expired["trustStatus"] == "valid"
    sig = expired["evidence"]["subjects"][0]["signatures"][0]["annotations"]
    bundle = json.loads(sig["dev.sigstore.cosign/bundle"])
    bundle["Payload"]["integratedTime"] += 3600  # after the certificate expired
    sig["dev.sigstore.cosign/bundle"] = json.dumps(bundle)
    out.write_text(json.dumps(doc))
    capsys.readouterr()
    assert clamp("provenance", "verify", str(out)) == 11
    assert "records[1] (9.2.0/ubuntu-24.04): verification.verdict:" in capsys.readouterr().err


def test_evidence_past_the_bound_is_not_embedded_and_never_consistent(
        demo_world: DemoResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(evidence_module, "MAX_EVIDENCE", 512)
    out = tmp_path / "bounded.json"
    clamp("verify", "--matrix", str(demo_world.matrix), "--version", "6.4.4", "-o", str(out))
    doc = json.loads(out.read_text())
    keyless = record(doc, KEYLESS)["evidence"]
    assert keyless["omitted"] and "past the bound of 512 bytes" in keyless["omitted"]
    assert keyless["embeddedBytes"] == 0
    assert all(not s["signatures"] for s in keyless["subjects"])
    monkeypatch.undo()
    capsys.readouterr()
    assert clamp("provenance", "verify", str(out)) == 11
    assert f"({KEYLESS}): evidence: " in capsys.readouterr().err


@pytest.mark.parametrize("content", ["not json", "{}", '{"schemaVersion": 1}', "[]"])
def test_bad_files_are_bad_input(tmp_path: Path, content: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert clamp("provenance", "verify", str(path)) == 64
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0]


def test_a_missing_trusted_root_file_is_bad_input(demo_world: DemoResult, tmp_path: Path) -> None:
    assert clamp("provenance", "verify", str(demo_world.provenance), "--trusted-root",
                 str(tmp_path / "absent.json")) == 64



def test_an_edited_rfc3161_timestamp_is_refused(logged_world: LoggedWorld, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "logged.json"
    clamp("verify", "--matrix", str(logged_world.matrix), "-o", str(out))
    assert clamp("provenance", "verify", str(out)) == 0
    doc = json.loads(out.read_text())
    annotations = record(doc, "9.4.0/ubuntu-24.04")["evidence"]["subjects"][0]["signatures"][0][
        "annotations"]
    stamp = json.loads(annotations["dev.sigstore.cosign/rfc3161timestamp"])
    stamp["SignedRFC3161Timestamp"] = flip(stamp["SignedRFC3161Timestamp"])
    annotations["dev.sigstore.cosign/rfc3161timestamp"] = json.dumps(stamp)
    out.write_text(json.dumps(doc))
    capsys.readouterr()
    assert clamp("provenance", "verify", str(out)) == 11
    assert "records[3] (9.4.0/ubuntu-24.04): verification." in capsys.readouterr().err


def test_a_layer_the_registry_served_wrongly_is_kept_and_reproduced(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The key-signed image's `.sig` layer blob is corrupted in storage: the registry error is
    the verdict (fail closed), kept with the evidence, and reproduced offline; claiming the bytes
    were fine (no layer error) is refused."""
    from tests.verify.conftest import build_demo

    world = build_demo(tmp_path / "world")
    doc = json.loads(world.provenance.read_text())
    layer = record(doc, KEYED)["evidence"]["subjects"][0]["signatures"][0]
    blob = hashlib.sha256(base64.b64decode(layer["data"])).hexdigest()
    assert world.layout is not None
    path = world.layout / "rocm/dev/blobs/sha256" / blob
    corrupted = bytearray(path.read_bytes())
    corrupted[len(corrupted) // 2] ^= 0x01  # same size: only the digest can tell
    path.write_bytes(bytes(corrupted))
    out = tmp_path / "served-wrongly.json"
    clamp("verify", "--matrix", str(world.matrix), "--version", "6.4.4", "--os", "ubuntu-24.04",
          "-o", str(out))
    doc = json.loads(out.read_text())
    (keyed,) = doc["records"]
    assert keyed["trustStatus"] == "error" and keyed["verification"]["check"] == "registry"
    (error,) = keyed["evidence"]["subjects"][0]["layerErrors"]
    assert error["integrity"] and blob in json.dumps(keyed["evidence"]["subjects"][0]["problems"])
    assert clamp("provenance", "verify", str(out)) == 0
    keyed["evidence"]["subjects"][0]["layerErrors"] = []
    out.write_text(json.dumps(doc))
    capsys.readouterr()
    assert clamp("provenance", "verify", str(out)) == 11
    assert f"records[0] ({KEYED}): " in capsys.readouterr().err


def _forge_signer(doc: dict[str, Any]) -> None:
    """The consistent forgery: the key-signed record re-signed with the forger's own key, the
    policy's key swapped for it and rehashed, the signer fields to match. Every signature in
    the file verifies with the policy the file holds; only the matrix says whom to trust."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from clamp.trust.keys import PublicKey, sign_bytes
    from clamp.trust.mediatypes import ANN_SIGNATURE

    forger = ec.generate_private_key(ec.SECP256R1())
    public = PublicKey(forger.public_key())
    r = record(doc, KEYED)
    sig = r["evidence"]["subjects"][0]["signatures"][0]
    signature = sign_bytes(forger, base64.b64decode(sig["data"]))
    sig["annotations"][ANN_SIGNATURE] = base64.b64encode(signature).decode()
    trust = next(t for t in r["evidence"]["policy"]["trust"] if t["keys"])
    trust["keys"] = [public.pem.decode()]
    rehash_policy(r)
    r["keyFingerprint"] = public.fingerprint
    r["verification"]["signer"]["key_fingerprint"] = public.fingerprint


def test_a_consistent_forgery_needs_the_matrix_to_be_caught(
        original: dict[str, Any], demo_world: DemoResult, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    doc = copy.deepcopy(original)
    _forge_signer(doc)
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(doc))
    root = ("--trusted-root", str(demo_world.trusted_root))
    # Without the matrix the file is consistent: that is all it can say, and it says so.
    assert clamp("provenance", "verify", str(path), *root) == 0
    assert "pass --matrix to anchor them" in capsys.readouterr().err
    assert clamp("provenance", "verify", str(path), *root, "--matrix",
                 str(demo_world.matrix)) == 11
    err = capsys.readouterr().err
    assert f"records[{index(doc, KEYED)}] ({KEYED}): policy: the record was verified with a " \
           "policy that is not the matrix's" in err, err


@pytest.mark.parametrize("edit", ["other matrix bytes", "record for another entry"])
def test_the_matrix_anchor_checks_the_files_matrix(edit: str, original: dict[str, Any],
                                                   demo_world: DemoResult, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    doc = copy.deepcopy(original)
    if edit == "other matrix bytes":
        doc["matrix"]["sha256"] = "0" * 64
        check = "matrix: sha256:"
    else:
        r = record(doc, KEYED)
        r["digest"] = OTHER_DIGEST
        check = f"({KEYED}): digest:"
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc))
    assert clamp("provenance", "verify", str(path), "--matrix", str(demo_world.matrix)) == 11
    assert check in capsys.readouterr().err


def test_the_honest_file_is_anchored_to_its_matrix(demo_world: DemoResult,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert clamp("provenance", "verify", str(demo_world.provenance), "--trusted-root",
                 str(demo_world.trusted_root), "--matrix", str(demo_world.matrix)) == 0
    assert "policies: --matrix" in capsys.readouterr().err


def _platform_record(doc: dict[str, Any]) -> dict[str, Any]:
    return record(doc, KEYLESS)


def test_the_platform_child_is_proved_by_the_kept_index(original: dict[str, Any]) -> None:
    r = _platform_record(original)
    kept = base64.b64decode(r["evidence"]["index"])
    assert "sha256:" + hashlib.sha256(kept).hexdigest() == r["digest"]
    assert r["platformDigest"] in kept.decode()


def _swap_platform_child(doc: dict[str, Any]) -> None:
    """A forger makes the platform record stand on another image's signatures: the platform
    digest and the subject its signatures were kept under are rewritten to another signed
    digest (here: the key-signed image's, with its evidence). Every signature still verifies;
    only the index says which child the platform is."""
    r, donor = _platform_record(doc), record(doc, KEYED)
    other = donor["digest"]
    subject = copy.deepcopy(donor["evidence"]["subjects"][0])
    r["evidence"]["subjects"][1] = subject
    r["platformDigest"] = other
    assert subject["digest"] == other


@pytest.mark.parametrize("how", ["child swapped", "index dropped", "index of another image"])
def test_a_platform_record_cannot_name_another_child(how: str, original: dict[str, Any],
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    doc = copy.deepcopy(original)
    r = _platform_record(doc)
    if how == "child swapped":
        _swap_platform_child(doc)
    elif how == "index dropped":
        r["evidence"]["index"] = None
    else:
        r["evidence"]["index"] = base64.b64encode(b'{"schemaVersion":2,"manifests":[]}').decode()
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc))
    assert clamp("provenance", "verify", str(path)) == 11
    err = capsys.readouterr().err
    where = f"records[{index(doc, KEYLESS)}] ({KEYLESS})"
    assert f"{where}: platformDigest:" in err or f"{where}: digest:" in err, err


@pytest.mark.parametrize("matrix_text", [None, "version: 1\nimages: [\n", "version: 1\nbogus: 1\n"])
def test_a_bad_anchor_matrix_is_bad_input(matrix_text: str | None, demo_world: DemoResult,
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`--matrix` naming a missing, unparsable or invalid matrix: one line naming the file,
    exit 64 (bad input), never a traceback and never "all records reproduced"."""
    matrix = tmp_path / "ci" / "rocm_matrix.yml"
    if matrix_text is not None:
        matrix.parent.mkdir()
        matrix.write_text(matrix_text)
    assert clamp("provenance", "verify", str(demo_world.provenance), "--matrix",
                 str(matrix)) == 64
    err = capsys.readouterr().err
    assert "Traceback" not in err and "reproduced" not in err, err
    assert str(matrix) in err and len(err.strip().splitlines()) == 1, err
