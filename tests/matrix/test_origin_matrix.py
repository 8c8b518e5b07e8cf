"""The origin's matrix and policy files, and the variants its users have, give the origin's
answers (issue 14). The oracle is the origin's own code (tests/support/origin.py), run on the same
files; the tests that need it skip without ../shared/origin, the others use inline copies."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.matrix import MatrixError, load, select_image
from clamp.matrix.original import OriginPolicy
from clamp.matrix.yaml11 import needs_quotes, resolve_plain
from tests.support.origin import origin_dir, origin_policy, origin_resolve

D = "sha256:" + "79aa43981a4296ca45f6827a0d0bcdc8239824c8e97643a7a86c1ce2c9dddc8b"[:64]
D2 = "sha256:" + "ab" * 32

# The origin's Phase-4 shape (prefer_os a string), written here so the tests run without it.
MATRIX = f"""\
rocm:
  images:
    - version: "6.4.4"
      os: "ubuntu-22.04"
      digest: "{D}"
      added: "2024-10-12"
    - version: "6.4.4"
      os: "ubuntu-24.04"
      digest: "sha256:TODO_NEXT_RELEASE"
      added: "2024-10-12"
  policy:
    default: ["6.4.4", "ubuntu-22.04"]
    prefer_os: "ubuntu-24.04"
    fallback_os: "ubuntu-22.04"
    fallback_version: "6.4.4"
"""
POLICY = """\
policy:
  mode: strict           # strict | warn | auto_update
  digest_ttl: 7          # days before a digest is considered stale
  workflow: update-rocm.yml
  auto_update_ref: main
  require_signature: false
  attest_mode: none       # none | record | enforce
"""


@pytest.fixture
def pair(tmp_path: Path) -> Callable[..., Path]:
    def write(matrix: str = MATRIX, policy: str | None = POLICY) -> Path:
        ci = tmp_path / "ci"
        ci.mkdir(exist_ok=True)
        (ci / "rocm_matrix.yml").write_text(matrix)
        if policy is not None:
            (ci / "rocm_policy.yml").write_text(policy)
        return ci / "rocm_matrix.yml"
    return write


def policy_of(path: Path) -> OriginPolicy:
    policy = load(path).origin_policy
    assert policy is not None
    return policy


def test_origin_files_load_and_resolve_as_the_origin(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    origin = origin_dir()
    ci = tmp_path / "ci"
    shutil.copytree(origin / "ci", ci)
    loaded = load(ci / "rocm_matrix.yml")
    assert loaded.model.resolve.prefer_os == ["ubuntu-24.04"]
    assert select_image(loaded.model).ref.reference == origin_resolve(ci / "rocm_matrix.yml",
                                                                      monkeypatch)


def test_prefer_os_string_and_list(pair: Callable[..., Path]) -> None:
    pinned = MATRIX.replace("sha256:TODO_NEXT_RELEASE", D2)
    assert select_image(load(pair(pinned)).model).entry.os == "ubuntu-24.04"
    as_list = pinned.replace('prefer_os: "ubuntu-24.04"', "prefer_os: [ubuntu-24.04]")
    assert select_image(load(pair(as_list)).model).entry.os == "ubuntu-24.04"
    none = pinned.replace('prefer_os: "ubuntu-24.04"', "prefer_os:")
    assert select_image(load(pair(none)).model).entry.os == "ubuntu-22.04"


@pytest.mark.parametrize("default", ['["6.4.4", "ubuntu-22.04"]',
                                     "{version: '6.4.4', os: ubuntu-22.04}",
                                     "\n      version: 6.4.4\n      os: ubuntu-22.04"])
def test_default_list_or_mapping(pair: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
                                 default: str) -> None:
    path = pair(MATRIX.replace('default: ["6.4.4", "ubuntu-22.04"]', f"default: {default}"))
    model = load(path).model
    assert model.resolve.default is not None
    assert (model.resolve.default.version, model.resolve.default.os) == ("6.4.4", "ubuntu-22.04")
    if (Path(__file__).resolve().parents[2].parent / "shared" / "origin").is_dir():
        assert select_image(model).ref.reference == origin_resolve(path, monkeypatch)


def test_default_mapping_missing_half_is_an_error(pair: Callable[..., Path]) -> None:
    path = pair(MATRIX.replace('default: ["6.4.4", "ubuntu-22.04"]', "default: {version: '6.4.4'}"))
    with pytest.raises(MatrixError, match="both version and os"):
        load(path)


def test_numbers_read_as_the_origin_str(pair: Callable[..., Path],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`version: 6.4` is "6.4" and `6.10` is "6.1" (a YAML float, as PyYAML read it)."""
    text = (MATRIX.replace('version: "6.4.4"\n      os: "ubuntu-22.04"',
                           'version: 6.10\n      os: "ubuntu-22.04"')
            .replace('default: ["6.4.4", "ubuntu-22.04"]', "default: [6.1, ubuntu-22.04]")
            .replace('fallback_version: "6.4.4"', "fallback_version: 6.1"))
    loaded = load(pair(text))
    assert loaded.model.images[0].version == "6.1"
    assert any("read as '6.1'" in w for w in loaded.warnings)
    if (Path(__file__).resolve().parents[2].parent / "shared" / "origin").is_dir():
        assert select_image(loaded.model).ref.reference == origin_resolve(loaded.path,
                                                                          monkeypatch)


def test_missing_policy_file_is_the_origin_defaults(pair: Callable[..., Path]) -> None:
    loaded = load(pair(policy=None))
    assert any("policy file not found" in w and "origin's defaults" in w
               for w in loaded.warnings)
    d = loaded.model.defaults
    assert (d.policy, d.digest_ttl_days, d.require_signature) == ("strict", 7, False)
    assert policy_of(loaded.path) == OriginPolicy("strict", False, "none")
    assert loaded.model.dispatch is not None and loaded.model.dispatch.workflow == \
        "update-rocm.yml"


@pytest.mark.parametrize("policy", [
    "policy: {}\n", "policy:\n  mode: warn\n", "policy:\n  digest_ttl: 3\n",
    "policy:\n  require_signature: yes\n", "policy:\n  require_signature: 'false'\n",
    "policy:\n  attest_mode: record\n", "policy:\n  attest_mode: enforce\n",
    "policy:\n  attest_mode: off\n", "policy:\n  mode: Strict\n", "",
    "other: 1\n",
])
def test_policy_keys_missing_or_spelt_as_the_origin_read_them(
        pair: Callable[..., Path], tmp_path: Path, policy: str) -> None:
    """Each key as the origin's `Policy.load` read it (its code is the oracle when present)."""
    path = pair(policy=policy)
    ours = policy_of(path)
    d = load(path).model.defaults
    if (Path(__file__).resolve().parents[2].parent / "shared" / "origin").is_dir():
        pytest.importorskip("yaml")
        theirs = origin_policy(path.with_name("rocm_policy.yml"))
        assert ours.mode == theirs.mode.lower()
        assert ours.require_signature == theirs.require_signature
        assert ours.attest_mode == ("none" if theirs.attest_mode.lower() in ("false", "none")
                                    else theirs.attest_mode.lower())
        assert d.digest_ttl_days == theirs.digest_ttl


def test_origin_policy_without_shared_files(pair: Callable[..., Path]) -> None:
    """The same answers, stated (so the repository checks them without ../shared)."""
    assert policy_of(pair(policy="policy:\n  require_signature: 'false'\n")).require_signature
    assert not policy_of(pair(policy="policy:\n  require_signature: no\n")).require_signature
    assert policy_of(pair(policy="policy:\n  attest_mode: off\n")).attest_mode == "none"
    record = pair(policy="policy:\n  attest_mode: record\n")
    assert policy_of(record).attest_mode == "record"
    assert load(record).model.defaults.require_signature is False
    enforce = pair(policy="policy:\n  attest_mode: enforce\n")
    assert load(enforce).model.defaults.require_signature is True


def test_unknown_attest_mode_is_refused(pair: Callable[..., Path]) -> None:
    """The origin read a typo as `none` (no signature check); clamp says so instead."""
    with pytest.raises(MatrixError, match="attest_mode"):
        load(pair(policy="policy:\n  attest_mode: enforced\n"))


def test_identity_keeps_cosign_unanchored_meaning(pair: Callable[..., Path]) -> None:
    prov = ("\n      provenance:\n        identity: github.com/ROCm/\n"
            "        issuer: https://token.actions.githubusercontent.com")
    text = MATRIX.replace('added: "2024-10-12"\n    - version', 'added: "2024-10-12"' + prov +
                          "\n    - version", 1)
    loaded = load(pair(text))
    (name,) = loaded.model.images[0].trust or []
    pattern = loaded.model.trust[name].keyless[0].subject_regexp
    assert pattern == "^.*(?:github.com/ROCm/).*$"
    assert any("unanchored" in w for w in loaded.warnings)
    import re
    full = re.compile(rf"\A(?:{pattern})\Z")
    assert full.match("https://github.com/ROCm/rocm/.github/workflows/r.yml@refs/tags/v1")
    assert not full.match("https://github.com/evil/rocm")  # the honest twin's attacker


def test_os_keyed_layout_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "rocm_matrix.yml"
    path.write_text("ubuntu-22.04:\n  image: ghcr.io/rocm/dev:ubuntu-22.04-base\n"
                    "  sha256: abc\n  timestamp: '2025-01-01'\nubuntu-20.04:\n"
                    "  image: ghcr.io/rocm/dev:ubuntu-20.04-base\n")
    with pytest.raises(MatrixError, match="OS-keyed layout") as info:
        load(path)
    assert "version" not in str(info.value).split("layout")[0]
    assert "docs/matrix.md" in str(info.value)


@given(st.from_regex(r"[A-Za-z0-9_.:+~-]{0,12}", fullmatch=True))
def test_yaml11_scalars_as_pyyaml(text: str) -> None:
    """resolve_plain agrees with PyYAML's safe_load on plain one-word scalars, and a string
    needs_quotes does not claim reads back as itself in PyYAML."""
    yaml = pytest.importorskip("yaml")
    try:
        theirs = yaml.safe_load(text)
    except yaml.YAMLError:
        return
    except ValueError:  # PyYAML on an impossible date
        return
    if not isinstance(theirs, str | int | float | bool | type(None)) or text != text.strip():
        return
    ours = resolve_plain(text)
    if isinstance(theirs, float) and theirs != theirs:
        assert ours != ours
    else:
        assert ours == theirs and type(ours) is type(theirs)
    if not needs_quotes(text):
        assert yaml.safe_load(text) == text


def test_origin_files_migrate(tmp_path: Path) -> None:
    """`clamp matrix migrate` on the origin's own files: comments kept, PyYAML reads the result
    as clamp does, and it resolves to what the origin's files resolved to."""
    yaml = pytest.importorskip("yaml")
    from clamp.matrix import MatrixFile, load_text
    from clamp.matrix.migrate import migrate_text

    ci = tmp_path / "ci"
    shutil.copytree(origin_dir() / "ci", ci)
    old = load(ci / "rocm_matrix.yml")
    text = migrate_text(old)
    assert "# strict | warn | auto_update" in text and "none | record | enforce" in text
    new = load_text(text, ci / "native.yml")
    assert MatrixFile.model_validate(yaml.safe_load(text)).model_dump() == new.model.model_dump()
    assert select_image(new.model).ref.reference == select_image(old.model).ref.reference
