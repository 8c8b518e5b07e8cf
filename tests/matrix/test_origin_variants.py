"""The origin's matrix and policy files as maintainers edit them, read by clamp and by the origin's
own scripts (tests/support/origin.py: `resolve_rocm.resolve_image`, `verify_rocm_digest.Policy`,
both PyYAML `safe_load`): clamp gives the origin's image and policy, or refuses with one line
naming the file and line. Skipped without ../shared/origin (the oracle)."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clamp.errors import BadInputError
from clamp.matrix import MatrixError, load, select_image
from tests.support.origin import load_script, origin_dir

D = "sha256:79aa43981a4296ca45f6827a0d0bcdc8239824c8e97643a7a86c1ce2c9dddc8b"
D2 = "sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def originals() -> tuple[str, str]:
    ci = origin_dir() / "ci"
    return (ci / "rocm_matrix.yml").read_text(), (ci / "rocm_policy.yml").read_text()


def _variants(m: str, p: str) -> dict[str, tuple[str, str]]:
    """Edits a maintainer makes, on the origin's files (`m`, `p`) and on `m` with both entries
    pinned, so the preferred OS resolves."""
    pinned = m.replace("sha256:TODO_NEXT_RELEASE", D2)
    ttl = "digest_ttl: 7 "
    return {
        "unchanged": (m, p), "pinned": (pinned, p),
        "crlf": (m.replace("\n", "\r\n"), p.replace("\n", "\r\n")),
        "bom": ("\ufeff" + m, "\ufeff" + p),
        "bom-crlf-pinned": ("\ufeff" + pinned.replace("\n", "\r\n"), p),
        "trailing-spaces": (pinned.replace("\n", "   \n"), p.replace("\n", "  \n")),
        "comments": ("# top\n" + pinned.replace("\n", "  # note\n"), "# p\n" + p),
        "unquoted-digests": (pinned.replace(f'"{D}"', D).replace(f'"{D2}"', D2), p),
        "single-quoted": (pinned.replace('"', "'"), p.replace("mode: strict", "mode: 'strict'")),
        "flow-style": ("rocm:\n  images: [{version: '6.4.4', os: ubuntu-22.04, digest: '" + D
                       + "', added: '2024-10-12'}, {os: ubuntu-24.04, version: '6.4.4', digest: "
                       + D2 + "}]\n  policy: {default: [6.4.4, ubuntu-22.04], prefer_os: "
                       "ubuntu-24.04, fallback_os: ubuntu-22.04, fallback_version: 6.4.4}\n", p),
        "merge-key": ("rocm:\n  images:\n    - &first\n      version: \"6.4.4\"\n      os: "
                      "ubuntu-22.04\n      digest: " + D + "\n      added: 2024-10-12\n    - <<: "
                      "*first\n      os: ubuntu-24.04\n      digest: " + D2 + "\n  policy:\n    "
                      "default: [\"6.4.4\", \"ubuntu-22.04\"]\n    prefer_os: ubuntu-24.04\n", p),
        "alias-scalars": ("rocm:\n  images:\n    - version: &v \"6.4.4\"\n      os: &os "
                          "ubuntu-22.04\n      digest: " + D + "\n  policy:\n    default: [*v, "
                          "*os]\n    prefer_os: *os\n", p),
        "keys-reordered": ("rocm:\n  policy:\n    fallback_version: \"6.4.4\"\n    prefer_os: "
                           "ubuntu-24.04\n    default: [\"6.4.4\", ubuntu-22.04]\n  images:\n    "
                           "- digest: " + D2 + "\n      os: ubuntu-24.04\n      version: "
                           "\"6.4.4\"\n", p),
        "extra-entry": (pinned.replace("  policy:", "    - version: \"6.3.0\"\n      os: "
                                       "\"ubuntu-22.04\"\n      digest: \"" + D + "\"\n      "
                                       "added: 2024-09-01\n  policy:"), p),
        "document-markers": ("---\n" + pinned + "...\n", "---\n" + p),
        "version-float": (pinned.replace('version: "6.4.4"', "version: 6.4", 1), p),
        "os-yaml11-bool": (pinned.replace('os: "ubuntu-24.04"', "os: on"), p),
        "added-a-date": (pinned.replace('added: "2024-10-12"', "added: 2024-10-12"), p),
        "require-yes": (pinned, p.replace("require_signature: false", "require_signature: yes")),
        "require-on": (pinned, p.replace("require_signature: false", "require_signature: on")),
        "require-quoted-no": (pinned, p.replace("require_signature: false",
                                                "require_signature: 'no'")),
        "require-1": (pinned, p.replace("require_signature: false", "require_signature: 1")),
        "require-null": (pinned, p.replace("require_signature: false", "require_signature:")),
        "ttl-hex": (pinned, p.replace(ttl, "digest_ttl: 0x10")),
        "ttl-octal": (pinned, p.replace(ttl, "digest_ttl: 010")),
        "ttl-underscores": (pinned, p.replace(ttl, "digest_ttl: 1_000")),
        "ttl-sexagesimal": (pinned, p.replace(ttl, "digest_ttl: 1:30")),
        "ttl-quoted": (pinned, p.replace(ttl, "digest_ttl: '7'")),
        "mode-upper": (pinned, p.replace("mode: strict", "mode: WARN")),
        "mode-empty": (pinned, p.replace("mode: strict", "mode: ''")),
        "attest-upper": (pinned, p.replace("attest_mode: none", "attest_mode: Record")),
        "policy-empty-file": (pinned, ""), "policy-comment-only": (pinned, "# nothing\n"),
        # Refused by clamp with file:line (the origin accepted, or crashed, or misread them):
        "ttl-exponent": (pinned, p.replace(ttl, "digest_ttl: 1e3")),
        "ttl-fraction": (pinned, p.replace(ttl, "digest_ttl: 7.9")),
        "ttl-negative": (pinned, p.replace(ttl, "digest_ttl: -1")),
        "ttl-null": (pinned, p.replace(ttl, "digest_ttl: ~")),
        "ttl-huge": (pinned, p.replace(ttl, "digest_ttl: " + "9" * 5000)),
        "mode-null": (pinned, p.replace("mode: strict", "mode:")),
        "mode-yes": (pinned, p.replace("mode: strict", "mode: yes")),
        "policy-null": (pinned, "policy:\n"), "policy-list": (pinned, "policy: [1]\n"),
        "tab-indent": (pinned.replace("  images:", "\timages:"), p),
        "trailing-tab": (pinned, p.replace("\n", " \t\n")),
        "two-documents": (pinned + "---\nfoo: 1\n", p),
        "duplicate-key": (pinned.replace('      added: "2024-10-12"\n',
                                         '      added: "2024-10-12"\n      os: ubuntu-20.04\n',
                                         1), p),
        "impossible-date": (pinned.replace('added: "2024-10-12"', "added: 2024-13-45"), p),
        "impossible-date-in-policy": (pinned, p + "  when: 2024-02-30\n"),
        "nbsp-after-colon": (pinned.replace("prefer_os: ", "prefer_os:\u00a0"), p),
        "unknown-entry-key": (pinned.replace('      added: "2024-10-12"\n',
                                             '      added: "2024-10-12"\n      notes: hi\n', 1),
                              p),
    }


# What clamp refuses though the origin read it (each with its reason): clamp fails closed.
REFUSED_THOUGH_ORIGIN_READ = {
    "ttl-fraction": "int(7.9) was 7: a typo read as a week",
    "ttl-negative": "a TTL under a day makes every digest stale",
    "mode-null": "str(None) was 'None', an unknown mode: failures only warned",
    "mode-yes": "str(True) was 'True', an unknown mode: failures only warned",
    "duplicate-key": "PyYAML kept the last value silently",
    "unknown-entry-key": "a misspelt key is ignored by the origin; clamp names it",
}


def _origin(matrix: Path, policy: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    resolver, verifier = load_script("resolve_rocm"), load_script("verify_rocm_digest")
    monkeypatch.setenv("CLAMP_SKIP_MANIFEST", "1")
    try:
        resolver.MATRIX_PATH = matrix
        image: Any = str(resolver.resolve_image())
    except Exception as exc:  # any failure of the origin's code is a refusal
        image = exc
    try:
        got = verifier.Policy.load(policy)
        settings: Any = (got.mode.lower(), got.digest_ttl, got.require_signature,
                         {"false": "none"}.get(got.attest_mode.lower(), got.attest_mode.lower()))
    except Exception as exc:
        settings = exc
    return image, settings


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str, str], Path]:
    def put(name: str, matrix: str, policy: str) -> Path:
        ci = tmp_path / name / "ci"
        ci.mkdir(parents=True)
        (ci / "rocm_matrix.yml").write_bytes(matrix.encode("utf-8"))
        (ci / "rocm_policy.yml").write_bytes(policy.encode("utf-8"))
        return ci / "rocm_matrix.yml"
    return put


NAMES = list(_variants("", ""))


@pytest.mark.parametrize("name", NAMES)
def test_maintainer_edits_read_as_the_origin_or_refused_on_one_line(
        originals: tuple[str, str], write: Callable[[str, str, str], Path],
        monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    matrix_text, policy_text = _variants(*originals)[name]
    path = write(name, matrix_text, policy_text)
    image, settings = _origin(path, path.with_name("rocm_policy.yml"), monkeypatch)
    try:
        loaded = load(path)
    except MatrixError as exc:
        message = str(exc)
        assert "\n" not in message.strip() or message.count(".yml:") >= 1
        first = message.strip().splitlines()[0]
        assert first.startswith(str(path.parent)) and ".yml:" in first, first
        line = first.split(".yml:", 1)[1].split(":", 1)[0]
        assert line.isdigit(), first  # the line is named
        assert (isinstance(image, Exception) or isinstance(settings, Exception)
                or name in REFUSED_THOUGH_ORIGIN_READ), f"the origin read it: {first}"
        return
    assert name not in REFUSED_THOUGH_ORIGIN_READ
    assert not isinstance(image, Exception), f"the origin refused it: {image!r}"
    assert not isinstance(settings, Exception), f"the origin refused it: {settings!r}"
    assert select_image(loaded.model).ref.reference == image
    policy = loaded.origin_policy
    assert policy is not None
    assert (policy.mode, loaded.model.defaults.digest_ttl_days,
            policy.require_signature) == settings[:3]
    _assert_attest(policy.attest_mode, settings[3])


def test_text_that_is_not_utf8_is_refused_naming_its_line(tmp_path: Path) -> None:
    """The origin's scripts died with a UnicodeDecodeError; clamp names the file and line."""
    ci = tmp_path / "ci"
    shutil.copytree(origin_dir() / "ci", ci)
    matrix = ci / "rocm_matrix.yml"
    matrix.write_bytes(matrix.read_bytes().replace(b"  policy:", b"  # caf\xe9\n  policy:"))
    with pytest.raises(BadInputError) as info:
        load(matrix)
    assert str(info.value).startswith(f"{matrix}:11:")


POLICY_SCALARS = st.one_of(
    st.sampled_from(["yes", "no", "on", "off", "y", "n", "true", "False", "~", "null", "''",
                     "0", "1", "0x10", "0o7", "010", "1_0", "1:30", "1e3", "7.0", "-1", "+7",
                     "7d", "'7'", "strict", "Warn", "auto_update", "record", "enforce", "none",
                     "2024-01-01", ".inf", ".nan", "[]", "{}"]),
    st.from_regex(r"[A-Za-z0-9_.:+-]{1,6}", fullmatch=True))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["mode", "digest_ttl", "require_signature", "attest_mode"]),
       POLICY_SCALARS)
def test_a_policy_value_reads_as_the_origin_read_it_or_is_refused(
        originals: tuple[str, str], tmp_path: Path, key: str, value: str) -> None:
    """Each key with a YAML scalar in place of its value: the origin's `Policy.load` (PyYAML
    safe_load, then str/int/bool) is the oracle; clamp agrees, or refuses on one line naming
    the policy file and line."""
    matrix_text, policy_text = originals
    work = Path(tempfile.mkdtemp(dir=tmp_path)) / "ci"
    work.mkdir()
    (work / "rocm_matrix.yml").write_text(matrix_text)
    lines = [f"  {key}: {value}" if line.startswith(f"  {key}:") else line
             for line in policy_text.splitlines()]
    (work / "rocm_policy.yml").write_text("\n".join(lines) + "\n")
    verifier = load_script("verify_rocm_digest")
    try:
        got = verifier.Policy.load(work / "rocm_policy.yml")
        theirs: Any = (got.mode.lower(), got.digest_ttl, got.require_signature,
                       {"false": "none"}.get(got.attest_mode.lower(), got.attest_mode.lower()))
    except Exception as exc:  # the origin refused (crashed on) it
        theirs = exc
    try:
        loaded = load(work / "rocm_matrix.yml")
    except MatrixError as exc:
        first = str(exc).strip().splitlines()[0]
        assert first.startswith(f"{work / 'rocm_policy.yml'}:"), first
        assert first.split(".yml:", 1)[1].split(":", 1)[0].isdigit(), first
        return
    policy = loaded.origin_policy
    if isinstance(theirs, Exception):  # clamp's one extension: a TTL written as days, '7d'
        assert key == "digest_ttl" and re.fullmatch(r"'?\d+d'?", value), theirs
        return
    assert policy is not None
    ours = (policy.mode, loaded.model.defaults.digest_ttl_days, policy.require_signature,
            policy.attest_mode)
    assert ours[:3] == theirs[:3]
    _assert_attest(ours[3], theirs[3])


def _assert_attest(ours: str, theirs: str) -> None:
    """The origin acted on record and enforce only (anything else skipped the signature);
    clamp reads some other spellings more strictly by design (`true`: enforce, `warn`: record,
    see `original.ATTEST_ALIASES`), never less."""
    rank = {"none": 0, "record": 1, "enforce": 2}
    effective = theirs if theirs in rank else "none"
    assert rank[ours] >= rank[effective]
    if ours != effective:
        assert theirs not in rank, (ours, theirs)  # only spellings the origin did not know
