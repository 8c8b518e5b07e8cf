"""Flag spellings, combinations and empty runs must not turn a failure into exit 0.

Red team, session 10: `--insecure-ignore-tlog --insecure-ignore-tlog=false` **got through** —
clamp dropped the `=false` and kept the bare flag, so the log entry cosign would then require
(pflag: the last occurrence of a flag decides) was skipped, and an image with no log entry
verified. Now the last occurrence decides, with the values Go's strconv.ParseBool takes; any
other value is a usage error (exit 64). Each case beside its honest twin, on a key-signed image
with no transparency-log entry (so only the log rule decides the outcome).
"""

from __future__ import annotations

import json

import pytest

from clamp.exitcodes import ExitCode
from tests.adversarial.conftest import Attack, Signer, key_trust, run_clamp, simple_payload

FLAG = "--insecure-ignore-tlog"


@pytest.fixture
def no_log(attack: Attack, signer: Signer) -> Attack:
    """The image signed by the trusted key, as `clamp sign` signs: no log entry."""
    attack.push_tag(".sig", [signer.simple(simple_payload(attack.digest))])
    return attack


@pytest.mark.parametrize("flags", [
    (FLAG, f"{FLAG}=false"),
    (f"{FLAG}=true", f"{FLAG}=false"),
    (FLAG, f"{FLAG}=0"),
    (f"{FLAG}=F",),
    (f"{FLAG}=FALSE",),
    (),
])
def test_the_last_occurrence_requiring_the_log_fails(no_log: Attack, signer: Signer,
                                                     flags: tuple[str, ...]) -> None:
    code, err = no_log.verify_image("--key", str(signer.pub), *flags)
    assert code == ExitCode.SIGNATURE_FAILED, err
    assert "tlog" in err


@pytest.mark.parametrize("flags", [
    (f"{FLAG}=false", FLAG),
    (FLAG,),
    (f"{FLAG}=true",),
    (f"{FLAG}=1",),
    (f"{FLAG}=T",),
    (f"{FLAG}=True",),
])
def test_the_last_occurrence_ignoring_the_log_verifies(no_log: Attack, signer: Signer,
                                                       flags: tuple[str, ...]) -> None:
    code, err = no_log.verify_image("--key", str(signer.pub), *flags)
    assert code == ExitCode.OK, err


@pytest.mark.parametrize("value", ["yes", "tRuE", "", "on", "2"])
def test_a_value_go_would_not_parse_is_a_usage_error(no_log: Attack, signer: Signer,
                                                     value: str) -> None:
    code, err = no_log.verify_image("--key", str(signer.pub), f"{FLAG}={value}")
    assert code == ExitCode.BAD_INPUT, err


# -- a run that verifies nothing ----------------------------------------------------------------
# Session 10: a strict matrix with `images: []` exited 0 with status `verified` ("0 entries"),
# while a filter matching nothing was already bad input: an empty run looks like success. Now it
# is bad input too (exit 64, nothing written). Its twin, a matrix whose entries are all unpinned
# (how a matrix starts before `clamp update` pins it), stays exit 0 with status `warnings`.
def _matrix_text(attack: Attack, signer: Signer, images: str) -> str:
    return (f'version: 1\ndefaults:\n  registry: "{attack.registry.host}"\n'
            f"  repository: {attack.repo}\n  policy: strict\n  trust: [signer]\n"
            f"trust:\n  signer:\n{key_trust(signer)}\nimages:{images}\n")


def test_a_matrix_with_no_images_is_bad_input(attack: Attack, signer: Signer) -> None:
    matrix = attack.folder / "empty.yml"
    matrix.write_text(_matrix_text(attack, signer, " []"))
    out = attack.folder / "provenance.json"
    code, err = run_clamp("verify", "--matrix", str(matrix), "-o", str(out))
    assert code == ExitCode.BAD_INPUT, err
    assert f"error: {matrix}: the matrix lists no images: nothing to verify" in err
    assert not out.exists()


def test_a_matrix_of_unpinned_entries_passes_with_warnings(attack: Attack,
                                                           signer: Signer) -> None:
    matrix = attack.folder / "unpinned.yml"
    matrix.write_text(_matrix_text(attack, signer, '\n  - version: "7.0.0"\n    os: ubuntu-24.04'
                                                   "\n    digest: null"))
    out = attack.folder / "provenance.json"
    code, err = run_clamp("verify", "--matrix", str(matrix), "-o", str(out))
    assert code == ExitCode.OK, err
    document = json.loads(out.read_text())
    assert document["status"] == "warnings" and document["skipped"] == ["7.0.0/ubuntu-24.04"]
