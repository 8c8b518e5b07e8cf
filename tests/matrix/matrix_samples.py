"""Sample matrices shared by the matrix tests (both layouts, with comments)."""

from __future__ import annotations

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64
D4 = "sha256:" + "4" * 64
PEM = ("-----BEGIN PUBLIC KEY-----\n"
       "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEw0Hqc+o84DsNVOmlxfzCTB1YnmuB\n"
       "KLLVee+Ua9yJh6+whdDzpbn/XY9pOuuZCrruF5qEDm6MbfrN81fl9l6S/g==\n"
       "-----END PUBLIC KEY-----\n")

NATIVE = f"""\
# A native matrix with comments.
version: 1
defaults:
  registry: ghcr.io
  repository: rocm/dev
  tag: "{{version}}-{{os}}"   # tag template
  policy: strict
  digest_ttl_days: 30
  trust: [release]
trust:
  release:
    keyless:
      - issuer: https://token.actions.githubusercontent.com
        subject_regexp: ^https://github\\.com/ROCm/.+$
  mirror:
    keys:
      - path: keys/mirror.pub
resolve:
  default: {{version: "6.4.4", os: ubuntu-22.04}}
  prefer_os: [ubuntu-24.04, ubuntu-22.04]
  fallback: {{version: "6.3.4", os: ubuntu-22.04}}
images:
  - version: "6.4.4"
    os: ubuntu-24.04
    digest: {D1}   # pinned by hand
    added: 2025-10-12
  - version: "6.4.4"
    os: ubuntu-22.04
    digest: "{D2}"
    added: 2025-10-12
  - version: "6.3.4"
    os: ubuntu-22.04
    digest: {D3}
    added: 2025-06-02
    trust: [mirror]
    provenance:
      # written by clamp update
      verified_at: "2025-06-03T10:00:00Z"
      log_index: 42
  - version: "7.0.0"
    os: ubuntu-24.04
    digest: null
"""

ORIGINAL = f"""\
# Original layout
rocm:
  images:
    - version: "6.4.4"
      os: ubuntu-24.04
      digest: {D1}
      added: 2025-10-12
      provenance:
        identity: https://github.com/ROCm/rocm-images/.github/workflows/release.yml@refs/tags/v1
        issuer: https://token.actions.githubusercontent.com
    - version: "6.4.4"
      os: ubuntu-22.04
      digest: {D2}
      added: 2025-10-12
    - version: "6.3.4"
      os: ubuntu-22.04
      digest: {D3}
      added: 2025-06-02
      provenance:
        key_path: ci/keys/rocm.pub   # repository-relative
    - version: "7.0.0"
      os: ubuntu-24.04
      digest: sha256:TODO_NEXT_RELEASE
  policy:
    default: ["6.4.4", ubuntu-22.04]
    prefer_os: [ubuntu-24.04, ubuntu-22.04]
    fallback_os: ubuntu-22.04
    fallback_version: "6.3.4"
"""

POLICY = """\
policy:
  mode: warn
  digest_ttl: 14d
  workflow: update-rocm.yml
  auto_update_ref: main
  require_signature: false
  attest_mode: optional
"""
