"""Where the origin's PyYAML and clamp's reader could take one file to mean two things (red team
13): a merge list that names a key twice, a provenance identity that is not a regexp on its own,
a null fallback half, an `added` that is a number. Each attack has an honest twin that reads as
the origin read it; the origin's own code (tests/support/origin.py) is the oracle where it ran.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from clamp.errors import BadInputError
from clamp.exitcodes import ExitCode
from clamp.matrix import MatrixError, load, select_image
from tests.support.origin import load_script, origin_resolve

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
POLICY = "policy:\n  mode: strict\n  digest_ttl: 7\n  require_signature: false\n"
RESOLVE = '  policy:\n    default: ["6.4.4", ubuntu-22.04]\n    prefer_os: ubuntu-24.04\n'
ISSUER = "https://token.actions.githubusercontent.com"


@pytest.fixture
def pair(tmp_path: Path) -> Callable[..., Path]:
    def write(images: str, resolve: str = RESOLVE) -> Path:
        ci = tmp_path / "ci"
        ci.mkdir(exist_ok=True)
        (ci / "rocm_matrix.yml").write_text("rocm:\n  images:\n" + images + resolve)
        (ci / "rocm_policy.yml").write_text(POLICY)
        return ci / "rocm_matrix.yml"
    return write


def refused_on_one_line(path: Path, capsys: pytest.CaptureFixture[str], words: str) -> int:
    """Refused by load and by `clamp matrix validate` (exit 64): one line, FILE:LINE; the line."""
    with pytest.raises(MatrixError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message and words in message, message
    assert message.startswith(f"{path}:") and message.split(":", 2)[1].isdigit(), message
    code = invoke(app, ["matrix", "validate", str(path)], prog_name="clamp")
    err = capsys.readouterr().err
    assert code == ExitCode.BAD_INPUT and "Traceback" not in err, err
    line = caught.value.problems[0].line
    assert line is not None
    return line


# --- merge lists: PyYAML 6.0.3+ lets the last mapping win, ruamel.yaml (and the spec) the first

MERGED = (f'    - &good {{version: "6.4.4", os: ubuntu-22.04, digest: {A}}}\n'
          '    - &todo {version: "6.4.4", os: ubuntu-20.04, digest: "sha256:TODO"}\n'
          "    - <<: [FIRST, SECOND]\n      os: ubuntu-24.04\n")


@pytest.mark.parametrize("order", [("*good", "*todo"), ("*todo", "*good")])
def test_a_merge_list_giving_the_digest_twice_is_refused(
        pair: Callable[..., Path], capsys: pytest.CaptureFixture[str],
        order: tuple[str, str]) -> None:
    """`<<: [*good, *todo]`: clamp's ruamel.yaml read the first mapping's digest (pinned), the
    origin's PyYAML the last's (a placeholder: the origin resolved `@sha256:TODO`), or the
    reverse. Was accepted with clamp's reading; now refused, naming the merging entry's line."""
    path = pair(MERGED.replace("FIRST", order[0]).replace("SECOND", order[1]))
    line = refused_on_one_line(path, capsys, "two values")
    assert path.read_text().splitlines()[line - 1].startswith("    - <<: [")
    yaml = pytest.importorskip("yaml")
    if tuple(int(part) for part in yaml.__version__.split(".")[:3]) >= (6, 0, 3):
        entry = yaml.safe_load(path.read_text())["rocm"]["images"][2]  # why it matters
        assert entry["digest"] == {"*good": A, "*todo": "sha256:TODO"}[order[1]]


def test_a_merge_list_that_agrees_reads_as_the_origin(
        pair: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The honest twin: merged mappings that share no key, or share one with one value, read
    the same in every reader, and resolve to what the origin resolved."""
    images = (f'    - &a {{version: "6.4.4", os: ubuntu-22.04, digest: {A}}}\n'
              f'    - &b {{version: "6.4.4", os: ubuntu-20.04, digest: {A}, added: 2024-10-12}}\n'
              f"    - <<: [*a, *b]\n      os: ubuntu-24.04\n      digest: {B}\n")
    path = pair(images)
    loaded = load(path)
    entry = loaded.model.images[2]
    assert (entry.version, entry.os, entry.digest, str(entry.added)) == \
        ("6.4.4", "ubuntu-24.04", B, "2024-10-12")
    assert select_image(loaded.model).ref.reference == origin_resolve(path, monkeypatch)


# --- provenance.identity: a regexp for cosign on its own, then wrapped by clamp

def _with_identity(identity: str) -> str:
    return (f'    - version: "6.4.4"\n      os: ubuntu-22.04\n      digest: {A}\n'
            f"      provenance:\n        identity: '{identity}'\n        issuer: {ISSUER}\n")


def test_an_identity_that_is_not_a_regexp_alone_is_refused(
        pair: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    """`x)|(.*` is no regexp (cosign refused it: "unexpected )"), but wrapped as clamp wraps an
    unanchored identity it was one: `^.*(?:x)|(.*).*$`, accepting every signer the issuer
    vouches for. Was accepted as that trust entry; now refused naming the identity's line."""
    path = pair(_with_identity("https://github.com/ROCm/rocm-images/x)|(.*"))
    line = refused_on_one_line(path, capsys, "unexpected )")
    assert "identity:" in path.read_text().splitlines()[line - 1]


def test_an_identity_that_is_a_regexp_keeps_cosign_meaning(pair: Callable[..., Path]) -> None:
    """The honest twin: a balanced alternation is wrapped whole and means what cosign's
    unanchored search meant: either workflow, nobody else."""
    from clamp.pattern import compile_pattern

    loaded = load(pair(_with_identity("ROCm/rocm-images/(build|release)\\.yml@")))
    (name,) = loaded.model.images[0].trust or []
    pattern = compile_pattern(loaded.model.trust[name].keyless[0].subject_regexp)
    repo = "https://github.com/ROCm/rocm-images/"
    assert pattern.fullmatch(repo + "release.yml@refs/heads/main")
    assert not pattern.fullmatch("https://github.com/evil/x/.github/workflows/x.yml@refs/x")


# --- a null fallback half: the origin's str(None)

NULL_FALLBACK = ('  policy:\n    default: ["6.4.4", ubuntu-22.04]\n    fallback_version: "6.3"\n'
                 "    fallback_os:\n")


def test_a_null_fallback_half_names_what_the_origin_named(
        pair: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """`fallback_os:` with nothing after it was str(None), "None", in the origin: its fallback
    named no entry and the resolver failed. clamp took the default's OS and resolved 6.3 on it,
    an image the origin never chose; now it reads "None" too, and warns."""
    path = pair(f'    - version: "6.3"\n      os: ubuntu-22.04\n      digest: {A}\n',
                NULL_FALLBACK)
    loaded = load(path)
    assert any("fallback_os is null" in warning for warning in loaded.warnings)
    with pytest.raises(Exception, match=r"6\.4\.4-ubuntu-22\.04"):
        origin_resolve(path, monkeypatch)
    with pytest.raises(BadInputError, match=r"6\.3/None"):
        select_image(loaded.model)


def test_an_absent_fallback_half_is_the_defaults(pair: Callable[..., Path],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The honest twin: without the key, the fallback's OS is the default's, in both."""
    path = pair(f'    - version: "6.3"\n      os: ubuntu-22.04\n      digest: {A}\n',
                NULL_FALLBACK.replace("    fallback_os:\n", ""))
    loaded = load(path)
    assert not any("null" in warning for warning in loaded.warnings)
    assert select_image(loaded.model).ref.reference == origin_resolve(path, monkeypatch) == \
        f"ghcr.io/rocm/dev:6.3-ubuntu-22.04@{A}"


# --- added: a day, not a number

@pytest.mark.parametrize("added", ["1728691200", "0", "'1728691200'", "20241012", "4102444800"])
def test_an_added_number_is_refused(pair: Callable[..., Path], capsys: pytest.CaptureFixture[str],
                                    added: str) -> None:
    """pydantic read a number (or numeric text) as seconds since 1970: `added: 4102444800` was a
    pin made on 2100-01-01, never stale; `0` one made in 1970. The origin's verifier crashed on
    a number. Now refused, naming the line."""
    path = pair(f'    - version: "6.4.4"\n      os: ubuntu-22.04\n      digest: {A}\n'
                f"      added: {added}\n")
    line = refused_on_one_line(path, capsys, "is not a date")
    assert path.read_text().splitlines()[line - 1].strip().startswith("added:")


@pytest.mark.parametrize("added", ["2024-10-12", "'2024-10-12'", "2024-10-12 10:00:00",
                                   "2024-10-12T10:00:00Z"])
def test_an_added_day_or_timestamp_reads_as_its_day(pair: Callable[..., Path],
                                                    added: str) -> None:
    """The honest twin: a day, quoted or not, or a timestamp cut to its day."""
    path = pair(f'    - version: "6.4.4"\n      os: ubuntu-22.04\n      digest: {A}\n'
                f"      added: {added}\n")
    assert str(load(path).model.images[0].added) == "2024-10-12"
    if added.startswith("'"):  # the origin's verifier read quoted text as its day (it crashed
        # on PyYAML's date and datetime: strptime() of a date)
        records = load_script("verify_rocm_digest").load_matrix(path)
        record = records[("6.4.4", "ubuntu-22.04")]
        assert str(load_script("verify_rocm_digest").parse_added_date(record)) == "2024-10-12"


# --- prefer_os: the origin's resolver took str() of it

TWO = (f'    - version: "6.4.4"\n      os: ubuntu-22.04\n      digest: {A}\n'
       f'    - version: "6.4.4"\n      os: ubuntu-24.04\n      digest: {B}\n')


def test_a_prefer_os_list_says_the_origin_ignored_it(pair: Callable[..., Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`prefer_os: [ubuntu-24.04]` was `"['ubuntu-24.04']"` to the origin, an OS no entry has,
    so it resolved the default (22.04) where clamp resolves the preferred 24.04. That documented
    choice stands, but the reader is now told, naming the line (before: silence)."""
    path = pair(TWO, RESOLVE.replace("prefer_os: ubuntu-24.04", "prefer_os: [ubuntu-24.04]"))
    loaded = load(path)
    (warning,) = [w for w in loaded.warnings if "prefer_os is a list" in w]
    assert warning.startswith(f"{path}:11:")  # the prefer_os line
    assert select_image(loaded.model).entry.os == "ubuntu-24.04"
    assert origin_resolve(path, monkeypatch).endswith(f"6.4.4-ubuntu-22.04@{A}")


@pytest.mark.parametrize("prefer", ["ubuntu-24.04", "'ubuntu-24.04'", "[]", "''", ""])
def test_a_prefer_os_string_or_nothing_reads_as_the_origin(
        pair: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, prefer: str) -> None:
    """The honest twin: one OS, or none (empty, null, an empty list), resolves as the origin
    resolved, without that warning."""
    path = pair(TWO, RESOLVE.replace("prefer_os: ubuntu-24.04", f"prefer_os: {prefer}"))
    loaded = load(path)
    assert not any("prefer_os is a list" in w for w in loaded.warnings)
    assert select_image(loaded.model).ref.reference == origin_resolve(path, monkeypatch)


# --- key_path beside identity: the origin ran `cosign verify --key` and nothing else

def _keyed(tmp_path: Path, pair: Callable[..., Path], *, identity: bool) -> Path:
    from matrix_samples import PEM

    (tmp_path / "ci").mkdir(exist_ok=True)
    (tmp_path / "ci" / "rocm.pub").write_text(PEM)
    more = "        identity: github.com/ROCm/\n" if identity else ""
    return pair(f'    - version: "6.4.4"\n      os: ubuntu-22.04\n      digest: {A}\n'
                f"      provenance:\n        key_path: rocm.pub\n{more}"
                f"        issuer: {ISSUER}\n")


def test_an_identity_beside_a_key_path_is_not_a_second_signer(
        tmp_path: Path, pair: Callable[..., Path]) -> None:
    """The origin's verifier passed `--key` when key_path was given, else the identity: beside
    a key the identity was never checked. clamp made both one any-of trust entry, so a keyless
    signature by any ROCm workflow passed where the origin demanded the key. Now the key alone,
    the identity kept as information, with a warning naming its line."""
    loaded = load(_keyed(tmp_path, pair, identity=True))
    (name,) = loaded.model.images[0].trust or []
    assert loaded.model.trust[name].keyless == [] and len(loaded.model.trust[name].keys) == 1
    assert loaded.model.images[0].provenance == {"identity": "github.com/ROCm/",
                                                 "issuer": ISSUER}
    (warning,) = [w for w in loaded.warnings if "not used beside key_path" in w]
    assert warning.startswith(f"{loaded.path}:8:")


def test_a_key_path_entry_edits_and_keeps_its_trust_keys(tmp_path: Path,
                                                         pair: Callable[..., Path]) -> None:
    """The honest twin, and the edit round trip: a key_path entry (with or without the extra
    identity) is verified by its key, and an update rewrites its pin without touching the
    trust keys."""
    from datetime import date

    from clamp.matrix import load_text
    from clamp.matrix.edit import EntryChange, apply_changes

    for identity in (False, True):
        loaded = load(_keyed(tmp_path, pair, identity=identity))
        (name,) = loaded.model.images[0].trust or []
        assert [key.path for key in loaded.model.trust[name].keys] == ["rocm.pub"]
        after = apply_changes(loaded, {"6.4.4/ubuntu-22.04": EntryChange(
            digest=B, added=date(2026, 1, 2), provenance={"verified_at": "2026-01-02"})})
        assert after.count("key_path: rocm.pub") == 1 and after.count(f"issuer: {ISSUER}") == 1
        again = load_text(after, loaded.path, policy_text=loaded.policy_text,
                          policy_path=loaded.policy_path)
        assert again.model.images[0].digest == B
        assert (again.model.images[0].provenance or {}).get("verified_at") == "2026-01-02"


# --- anchored and aliased scalars: PyYAML resolved the text after the anchor as YAML 1.1

@pytest.mark.parametrize(("written", "origin_read"), [("&o on", "True"), ("&o 1:20", "80"),
                                                      ("&o 'on'", "on"), ("&o ubuntu", "ubuntu")])
def test_an_anchored_name_reads_as_the_origin_read_it(
        pair: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, written: str,
        origin_read: str) -> None:
    """`os: &o on` (and `*o` elsewhere) was True to PyYAML, so the origin's tag was
    `6.4.4-True`; clamp skipped anchored scalars when re-reading names as YAML 1.1 and kept
    YAML 1.2's "on" (`1:20` was refused, not 80): another image reference than the origin's.
    The quoted and plain-word twins read the same before and after."""
    path = pair(f'    - version: "6.4.4"\n      os: {written}\n      digest: {A}\n',
                '  policy:\n    default: ["6.4.4", *o]\n    prefer_os: *o\n')
    loaded = load(path)
    assert loaded.model.images[0].os == origin_read
    assert select_image(loaded.model).ref.reference == origin_resolve(path, monkeypatch) == \
        f"ghcr.io/rocm/dev:6.4.4-{origin_read}@{A}"


@pytest.mark.parametrize(("policy", "required"), [
    ("policy:\n  require_signature: &r off\n  attest_mode: *r\n", False),
    ("policy:\n  require_signature: &r no\n", False),
    ("policy:\n  require_signature: &r 'off'\n", True),  # the twin: a string, bool() true
    ("policy:\n  require_signature: &r yes\n", True)])
def test_an_anchored_policy_value_reads_as_the_origin_read_it(
        pair: Callable[..., Path], policy: str, required: bool) -> None:
    """`require_signature: &r off` was False to the origin; clamp read YAML 1.2's "off", a
    non-empty string, as true. The oracle is the origin's `Policy.load`."""
    path = pair(f'    - version: "6.4.4"\n      os: ubuntu-22.04\n      digest: {A}\n')
    path.with_name("rocm_policy.yml").write_text(policy)
    theirs = load_script("verify_rocm_digest").Policy.load(path.with_name("rocm_policy.yml"))
    ours = load(path).origin_policy
    assert ours is not None
    assert ours.require_signature is theirs.require_signature is required
    assert ours.attest_mode == "none"


# --- a name with a final newline: Python's `$` matched before it

@pytest.mark.parametrize("where", ["os", "version", "template"])
def test_a_name_or_tag_ending_in_a_newline_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    """`os: "ubuntu-22.04\\n"` passed the name check (`^…$` with `re.match`), so its tag was
    `6.4.4-ubuntu-22.04\\n` and `clamp resolve` printed `…:6.4.4-ubuntu-22.04` and `@sha256:…`
    on two lines: a CI step reading the first line ran the tag, unpinned. The same for a tag
    template ending in a newline. Now refused, naming the line. (A version ending in one was
    refused before too: its newline is inside the tag, which `$` does not let through.)"""
    os_name = '"ubuntu-22.04\\n"' if where == "os" else "ubuntu-22.04"
    version = '"6.4.4\\n"' if where == "version" else '"6.4.4"'
    template = '"{version}-{os}\\n"' if where == "template" else '"{version}-{os}"'
    path = tmp_path / "matrix.yml"
    path.write_text(f"version: 1\ndefaults:\n  registry: ghcr.io\n  repository: rocm/dev\n"
                    f"  tag: {template}\n  require_signature: false\nimages:\n"
                    f"  - version: {version}\n    os: {os_name}\n    digest: {A}\n")
    refused_on_one_line(path, capsys, "not a valid")


def test_names_and_tags_without_a_newline_resolve_on_one_line(tmp_path: Path) -> None:
    """The honest twin: the same matrix with plain names resolves to one line."""
    path = tmp_path / "matrix.yml"
    path.write_text("version: 1\ndefaults:\n  registry: ghcr.io\n  repository: rocm/dev\n"
                    '  tag: "{version}-{os}"\n  require_signature: false\nimages:\n'
                    f'  - version: "6.4.4"\n    os: "ubuntu-22.04"\n    digest: {A}\n')
    ref = select_image(load(path).model, "6.4.4", "ubuntu-22.04").ref.reference
    assert ref == f"ghcr.io/rocm/dev:6.4.4-ubuntu-22.04@{A}" and "\n" not in ref


# --- bounds: a one-line flow matrix is re-read in time linear in its size

class _NoSlices(str):
    def __getitem__(self, key: object) -> str:  # type: ignore[override]
        if isinstance(key, slice):
            raise AssertionError("the source line was copied (once per scalar: quadratic)")
        return str.__getitem__(self, key)  # type: ignore[index]


def test_source_words_are_read_without_copying_the_line(tmp_path: Path) -> None:
    """Re-reading a name as the origin read it took the slice `line[col:]` of its line: for a
    16 MiB matrix written as one flow line that is a copy of megabytes per scalar (4 MiB:
    3.4 s, 16 MiB: about a minute, on top of the parse). Now the word is matched in place;
    the result is the same (`6.10` is "6.1", an anchored `on` "True")."""
    from clamp.matrix.scalars import read_as_origin
    from clamp.matrix.source import parse_yaml

    text = ("rocm:\n  images: [" + ", ".join(
        f"{{version: 6.{i}0, os: {'&o on' if i == 0 else 'ubuntu'}, digest: {A}}}"
        for i in range(50)) + "]\n  policy: {default: ['6.1', *o]}\n")
    doc = parse_yaml(tmp_path / "rocm_matrix.yml", text)
    doc.lines = [_NoSlices(line) for line in doc.lines]
    read_as_origin(doc, [])
    images = doc.data["rocm"]["images"]
    assert (images[0]["version"], images[0]["os"], images[1]["version"]) == ("6.0", "True", "6.1")
    assert doc.data["rocm"]["policy"]["default"][1] == "True"


# --- merged keys: re-read as YAML 1.1 where they are written

@pytest.mark.parametrize(("policy", "expected"), [
    ("d: &d {require_signature: off, digest_ttl: 010}\npolicy:\n  <<: *d\n", (False, 8)),
    ("policy:\n  <<: {require_signature: no, digest_ttl: 0x0A}\n", (False, 10)),
    ("d: &d {require_signature: 'off', digest_ttl: '7'}\npolicy:\n  <<: *d\n", (True, 7))])
def test_a_merged_policy_value_reads_as_the_origin_read_it(
        pair: Callable[..., Path], policy: str, expected: tuple[bool, int]) -> None:
    """`digest_ttl: 010` merged into `policy:` was 8 days to the origin (YAML 1.1 octal) and 10
    to clamp, a pin stale two days later than the origin said; `require_signature: off` the
    string "off", so true. Merged keys now read as they are written. The last case, quoted, is
    the honest twin (a string in both)."""
    path = pair(f'    - version: "6.4.4"\n      os: ubuntu-22.04\n      digest: {A}\n')
    path.with_name("rocm_policy.yml").write_text(policy)
    theirs = load_script("verify_rocm_digest").Policy.load(path.with_name("rocm_policy.yml"))
    loaded = load(path)
    assert loaded.origin_policy is not None
    ours = (loaded.origin_policy.require_signature, loaded.model.defaults.digest_ttl_days)
    assert ours == (theirs.require_signature, theirs.digest_ttl) == expected


def test_a_merged_name_reads_as_the_origin_read_it(pair: Callable[..., Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`- <<: *e` takes `os: on` from the anchored entry: True to the origin in both entries;
    clamp re-read only the anchored one and kept "on" in the merged one."""
    path = pair(f"    - &e\n      version: '6.4.4'\n      os: on\n      digest: {A}\n"
                f"    - <<: *e\n      version: '7'\n      digest: {B}\n",
                "  policy:\n    default: ['7', 'True']\n")
    loaded = load(path)
    assert [entry.os for entry in loaded.model.images] == ["True", "True"]
    assert select_image(loaded.model).ref.reference == origin_resolve(path, monkeypatch) == \
        f"ghcr.io/rocm/dev:7-True@{B}"


@pytest.mark.parametrize("override", ["require_signature: false", "attest_mode: \"off\"",
                                      "tlog: optional"])
def test_an_entry_cannot_lower_the_signature_requirements(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str) -> None:
    """Already so before this pass (kept as a regression check): an entry of a native matrix
    whose defaults require signatures cannot switch them off for itself; docs/matrix.md says
    which keys an entry may override."""
    path = tmp_path / "matrix.yml"
    path.write_text("version: 1\ndefaults:\n  registry: ghcr.io\n  repository: rocm/dev\n"
                    "  require_signature: true\n  trust: [release]\ntrust:\n  release:\n"
                    f"    keyless:\n      - issuer: {ISSUER}\n        subject: https://x/y\n"
                    f'images:\n  - version: "6.4.4"\n    os: ubuntu-22.04\n    digest: {A}\n'
                    f"    {override}\n")
    line = refused_on_one_line(path, capsys, "unknown key")
    assert path.read_text().splitlines()[line - 1].strip() == override
