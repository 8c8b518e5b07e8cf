"""Loading both layouts into the one native model."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from pathlib import Path

from matrix_samples import D1, D3, NATIVE, ORIGINAL

from clamp.matrix import effective, image_ref, load
from clamp.matrix.original import OriginPolicy


def test_native_loads_with_locations(native: Callable[[str], Path]) -> None:
    path = native(NATIVE)
    loaded = load(path)
    assert loaded.layout == "native"
    assert loaded.policy_path is None
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.entry_ids == ["6.4.4/ubuntu-24.04", "6.4.4/ubuntu-22.04",
                                "6.3.4/ubuntu-22.04", "7.0.0/ubuntu-24.04"]
    lines = path.read_text().splitlines()
    for entry_id in loaded.entry_ids:
        line = loaded.entry_line(entry_id)
        assert line is not None
        assert lines[line - 1].lstrip().startswith("- version:")
    entry = loaded.model.entry("6.3.4/ubuntu-22.04")
    assert entry.added == date(2025, 6, 2)
    assert entry.provenance == {"verified_at": "2025-06-03T10:00:00Z", "log_index": 42}
    key = loaded.model.trust["mirror"].keys[0]
    assert key.resolved_path == (path.parent / "keys" / "mirror.pub").resolve()
    assert loaded.model.entry("7.0.0/ubuntu-24.04").digest is None
    assert loaded.warnings == []


def test_effective_settings_and_reference(native: Callable[[str], Path]) -> None:
    model = load(native(NATIVE)).model
    entry = model.entry("6.3.4/ubuntu-22.04")
    settings = effective(model, entry)
    assert settings.trust_names == ("mirror",)
    assert settings.policy == "strict"
    assert image_ref(model, entry).reference == f"ghcr.io/rocm/dev:6.3.4-ubuntu-22.04@{D3}"
    first = model.images[0]
    assert effective(model, first).trust_names == ("release",)


def test_unquoted_numeric_version_keeps_its_text(native: Callable[[str], Path]) -> None:
    text = NATIVE.replace('version: "6.3.4"\n    os: ubuntu-22.04\n    digest',
                          "version: 6.10\n    os: ubuntu-22.04\n    digest")
    loaded = load(native(text))
    assert "6.10/ubuntu-22.04" in loaded.entry_ids
    assert any("quote it" in w for w in loaded.warnings)


def loaded_policy(path: Path) -> OriginPolicy:
    policy = load(path).origin_policy
    assert policy is not None
    return policy


def test_original_layout_normalised(original: Callable[..., Path]) -> None:
    path = original()
    loaded = load(path)
    assert loaded.layout == "original"
    assert loaded.policy_path == path.with_name("rocm_policy.yml")
    model = loaded.model
    assert (model.defaults.registry, model.defaults.repository) == ("ghcr.io", "rocm/dev")
    assert model.defaults.policy == "warn"
    assert model.defaults.digest_ttl_days == 14
    assert model.defaults.require_signature is False
    # the origin's attest_mode is about the signature: optional = record, no attestation needed
    assert model.defaults.attest_mode == "off"
    assert loaded_policy(original()).attest_mode == "record"
    assert model.dispatch is not None
    assert (model.dispatch.workflow, model.dispatch.ref) == ("update-rocm.yml", "main")
    assert model.resolve.default is not None
    assert (model.resolve.default.version, model.resolve.default.os) == ("6.4.4", "ubuntu-22.04")
    assert model.resolve.fallback is not None
    assert (model.resolve.fallback.version, model.resolve.fallback.os) == ("6.3.4",
                                                                           "ubuntu-22.04")
    first = model.images[0]
    assert first.digest == D1
    (name,) = first.trust or []
    keyless = model.trust[name].keyless[0]
    assert keyless.issuer == "https://token.actions.githubusercontent.com"
    # cosign's unanchored --certificate-identity-regexp, as a whole-value pattern
    assert keyless.subject is None and keyless.subject_regexp is not None
    assert keyless.subject_regexp.startswith("^.*(?:https://") and \
        keyless.subject_regexp.endswith("@refs/tags/v1).*$")
    keyed = model.entry("6.3.4/ubuntu-22.04")
    key = model.trust[(keyed.trust or [""])[0]].keys[0]
    # key_path is repository-relative: found in the parent of ci/.
    assert key.resolved_path == (path.parent / "keys" / "rocm.pub").resolve()
    assert model.entry("6.4.4/ubuntu-22.04").trust is None
    # The placeholder entry is kept, unpinned, with a warning naming it.
    assert model.entry("7.0.0/ubuntu-24.04").digest is None
    assert any("7.0.0/ubuntu-24.04" in w and "TODO_NEXT_RELEASE" in w for w in loaded.warnings)
    assert loaded.entry_line("7.0.0/ubuntu-24.04") == ORIGINAL.splitlines().index(
        '    - version: "7.0.0"') + 1


def test_original_ttl_as_int_and_identity_regexp(original: Callable[..., Path]) -> None:
    text = ORIGINAL.replace("identity: https://github.com/ROCm/rocm-images/.github/workflows/"
                            "release.yml@refs/tags/v1",
                            "identity: ^https://github\\.com/ROCm/.+$")
    policy = "policy:\n  mode: strict\n  digest_ttl: 30\n"
    model = load(original(text, policy)).model
    assert model.defaults.digest_ttl_days == 30
    assert model.defaults.require_signature is False  # the origin's default
    assert model.dispatch is not None  # the origin's default workflow
    assert (model.dispatch.workflow, model.dispatch.ref) == ("update-rocm.yml", "main")
    name = (model.images[0].trust or [""])[0]
    assert model.trust[name].keyless[0].subject_regexp == "^https://github\\.com/ROCm/.+$"


def test_shared_signers_become_one_trust_entry(original: Callable[..., Path]) -> None:
    prov = ("      provenance:\n        key_path: ci/keys/rocm.pub\n")
    text = ORIGINAL.replace("      added: 2025-10-12\n    - version: \"6.3.4\"",
                            "      added: 2025-10-12\n" + prov + "    - version: \"6.3.4\"")
    model = load(original(text)).model
    assert model.entry("6.4.4/ubuntu-22.04").trust == model.entry("6.3.4/ubuntu-22.04").trust
    assert len(model.trust) == 2
