"""Flag spellings and combinations must not turn a failure into exit 0.

Red team, session 10: `--insecure-ignore-tlog --insecure-ignore-tlog=false` **got through** —
clamp dropped the `=false` and kept the bare flag, so the log entry cosign would then require
(pflag: the last occurrence of a flag decides) was skipped, and an image with no log entry
verified. Now the last occurrence decides, with the values Go's strconv.ParseBool takes; any
other value is a usage error (exit 64). Each case beside its honest twin, on a key-signed image
with no transparency-log entry (so only the log rule decides the outcome).
"""

from __future__ import annotations

import pytest

from clamp.exitcodes import ExitCode
from tests.adversarial.conftest import Attack, Signer, simple_payload

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
