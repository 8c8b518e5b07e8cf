"""The demo scenario: sample images, signed every way clamp can check, one of each failure.

Everything is made here with real crypto: a cosign-format key pair for the "mirror" signer, a
private sigstore (Fulcio-like CA, CT log, Rekor-like log; `clamp.trust.pki`) for keyless release
signatures, and the images themselves. Then the main job runs exactly as in CI: resolve, verify
under `warn`, write rocm_provenance.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from clamp.atomic import write_atomic
from clamp.demo.images import put_image, put_index
from clamp.exitcodes import for_matrix
from clamp.location import Layout, Location, Registry
from clamp.matrix import load, select_image
from clamp.oci.manifest import Manifest
from clamp.oci.store import ImageStore, Stores
from clamp.signed.attach import push_bundle_referrer, push_legacy_signature
from clamp.telemetry.models import TelemetrySummary
from clamp.trust.keyfile import encrypt_private_key
from clamp.trust.keys import PublicKey
from clamp.trust.pki import TestSigstore, keyless_sign_image
from clamp.trust.sign import sign_image_bundle, sign_image_legacy
from clamp.verify.run import MatrixRun, run_matrix, write_provenance

REPOSITORY = "rocm/dev"
RELEASE_IDENTITY = ("https://github.com/ROCm/rocm-images/.github/workflows/release.yml"
                    "@refs/tags/rocm-{version}")
FORK_IDENTITY = "https://github.com/someone/rocm-images/.github/workflows/release.yml@refs/heads/x"
ISSUER = "https://token.actions.githubusercontent.com"
DEMO_KEY_PASSWORD = "clamp-demo"


@dataclass(frozen=True)
class Story:
    version: str
    os: str
    signing: str  # key | bundle | keyless | none | tampered | fork | drift
    expect: str  # the verdict a reader should see, and why
    platform: str | None = None

    @property
    def entry(self) -> str:
        return f"{self.version}/{self.os}" + (f"/{self.platform}" if self.platform else "")

    @property
    def status(self) -> str:
        """The trustStatus this story must produce."""
        return {"none": "unsigned", "tampered": "invalid", "fork": "identity_mismatch"}.get(
            self.signing, "valid")

    @property
    def tag_state(self) -> str:
        return "drift" if self.signing == "drift" else "current"


STORIES = (
    Story("6.4.4", "ubuntu-24.04", "key", "valid: legacy .sig signature by the mirror key"),
    Story("6.4.4", "ubuntu-22.04", "keyless", "valid: keyless release signature (Fulcio-like "
          "certificate, SCT, Rekor SET), multi-arch index pinned with its amd64 manifest",
          platform="linux/amd64"),
    Story("6.3.4", "ubuntu-22.04", "bundle", "valid: sigstore v0.3 bundle stored as an OCI "
          "referrer (tag-schema fallback), signed by the mirror key"),
    Story("6.2.4", "ubuntu-22.04", "none", "unsigned: no .sig tag and no bundle referrer"),
    Story("6.1.2", "ubuntu-22.04", "tampered", "invalid: the signed payload was altered after "
          "signing, so the signature no longer matches"),
    Story("6.0.2", "ubuntu-22.04", "fork", "identity_mismatch: a real keyless signature, but "
          "from a fork's workflow, not the release workflow"),
    Story("5.7.1", "ubuntu-22.04", "drift", "valid signature, but the tag has moved on to a "
          "newer image since it was pinned (drift), and the pin is past its TTL"),
)


@dataclass
class DemoResult:
    out: Path
    matrix: Path
    layout: Path | None
    provenance: Path
    trusted_root: Path
    public_key: Path
    private_key: Path
    resolved: str
    resolved_reason: str
    run: MatrixRun
    telemetry_summary: Path
    telemetry_report: Path
    summary: TelemetrySummary
    stories: tuple[Story, ...] = STORIES


async def build_images(store: ImageStore, registry_name: str, pki: TestSigstore,
                       mirror: ec.EllipticCurvePrivateKey) -> dict[str, Manifest]:
    """Push every story's image and its signatures; return the digest each entry pins."""
    pins: dict[str, Manifest] = {}
    name = f"{registry_name}/{REPOSITORY}"
    for build, story in enumerate(STORIES, start=1):
        tag = f"{story.version}-{story.os}"
        if story.platform:
            image = await put_index(store, REPOSITORY, tag, version=story.version,
                                    os_name=story.os, build=build)
        else:
            image = await put_image(store, REPOSITORY, tag, version=story.version,
                                    os_name=story.os, build=build)
        pins[tag] = image
        digest = str(image.digest)
        if story.signing in ("key", "drift"):
            layer = sign_image_legacy(mirror, digest, name)
            await _push_layer(store, image, layer.payload, dict(layer.annotations))
        elif story.signing == "bundle":
            await push_bundle_referrer(store, REPOSITORY, image,
                                       sign_image_bundle(mirror, digest, name))
        elif story.signing in ("keyless", "fork"):
            who = RELEASE_IDENTITY.format(version=story.version) if story.signing == "keyless" \
                else FORK_IDENTITY
            layer = keyless_sign_image(pki, digest, name, identity=who, issuer=ISSUER)
            await _push_layer(store, image, layer.payload, dict(layer.annotations))
        elif story.signing == "tampered":
            layer = sign_image_legacy(mirror, digest, name)
            body = json.loads(layer.payload)
            body["optional"] = {"note": "changed after signing"}
            await _push_layer(store, image, json.dumps(body).encode(), dict(layer.annotations))
        if story.signing == "drift":  # the tag moves on to a newer, signed build
            newer = await put_image(store, REPOSITORY, tag, version=story.version,
                                    os_name=story.os, build=100 + build)
            layer = sign_image_legacy(mirror, str(newer.digest), name)
            await _push_layer(store, newer, layer.payload, dict(layer.annotations))
    return pins


async def _push_layer(store: ImageStore, image: Manifest, payload: bytes,
                      annotations: dict[str, str]) -> None:
    await push_legacy_signature(store, REPOSITORY, image.digest, payload, annotations)


def matrix_text(registry: str, pins: dict[str, Manifest], today: date) -> str:
    lines = [
        "# Written by `clamp demo`: sample ROCm images, each showing one verdict.",
        "version: 1",
        "defaults:",
        f'  registry: "{registry}"',
        f"  repository: {REPOSITORY}",
        '  tag: "{version}-{os}"',
        "  policy: warn              # report everything, fail nothing (try: strict)",
        "  digest_ttl_days: 30",
        "  trust: [rocm-release, rocm-mirror]",
        "trust:",
        "  rocm-release:             # keyless: the release workflow, via the demo sigstore",
        "    keyless:",
        f"      - issuer: {ISSUER}",
        r"        subject_regexp: ^https://github\.com/ROCm/rocm-images/\.github/workflows/"
        r"release\.yml@refs/tags/.+$",
        "    tlog: required",
        "    trusted_root: ../trust/trusted_root.json",
        "  rocm-mirror:              # a mirror signed with a cosign-format key",
        "    keys:",
        "      - path: ../keys/mirror.pub",
        "    tlog: optional         # `clamp sign` writes no transparency-log entry",
        "resolve:",
        '  default: {version: "6.4.4", os: ubuntu-22.04}',
        "  prefer_os: [ubuntu-24.04, ubuntu-22.04]",
        '  fallback: {version: "6.3.4", os: ubuntu-22.04}',
        "images:",
    ]
    for story in STORIES:
        image = pins[f"{story.version}-{story.os}"]
        added = today - timedelta(days=45 if story.signing == "drift" else 3)
        lines += [f'  - version: "{story.version}"', f"    os: {story.os}",
                  f"    digest: {image.digest}", f"    added: {added.isoformat()}"]
        if story.platform:
            child = next(d for d in image.body["manifests"]
                         if d["platform"]["architecture"] == story.platform.split("/")[1])
            lines += [f"    platform: {story.platform}",
                      f"    platform_digest: {child['digest']}"]
    lines += ['  - version: "7.0.0"', "    os: ubuntu-24.04",
              "    digest: null              # not released yet: explicitly unpinned"]
    return "\n".join(lines) + "\n"


async def run_demo(out: Path, *, open_store: Callable[[Stores], ImageStore],
                   location: Location, today: date | None = None) -> DemoResult:
    """Build the images into the store `open_store` picks (in `location`), write the inputs,
    run the job. A layout is written into the matrix relative to it (`oci:../layout`), so the
    demo folder can move."""
    day = today or date.today()
    pki = TestSigstore()
    mirror = ec.generate_private_key(ec.SECP256R1())
    paths = {name: out / rel for name, rel in {
        "matrix": "ci/rocm_matrix.yml", "root": "trust/trusted_root.json",
        "pub": "keys/mirror.pub", "key": "keys/mirror.key",
        "provenance": "build/rocm_provenance.json"}.items()}
    write_atomic(paths["root"], pki.trusted_root_json())
    write_atomic(paths["pub"], PublicKey(mirror.public_key()).pem)
    write_atomic(paths["key"], encrypt_private_key(mirror, DEMO_KEY_PASSWORD.encode()),
                 mode=0o600)
    async with Stores() as stores:
        match location:
            case Layout(path=path):
                layout: Path | None = Path(path)
                name = path
                matrix_registry = str(Layout(str(Path("..") / Path(path).relative_to(out))))
            case Registry(host=host):
                layout, name, matrix_registry = None, host, host
        pins = await build_images(open_store(stores), name, pki, mirror)
        write_atomic(paths["matrix"], matrix_text(matrix_registry, pins, day))
        loaded = load(paths["matrix"])
        chosen = select_image(loaded.model)
        run = await run_matrix(loaded, stores, exit_code_of=for_matrix, today=day)
    write_provenance(paths["provenance"], run.document)
    summary, report = telemetry(out, paths["provenance"], pins)
    return DemoResult(out=out, matrix=paths["matrix"], layout=layout,
                      provenance=paths["provenance"], trusted_root=paths["root"],
                      public_key=paths["pub"], private_key=paths["key"],
                      resolved=chosen.ref.reference, resolved_reason=chosen.reason, run=run,
                      telemetry_summary=out / "build" / "telemetry_summary.json",
                      telemetry_report=report, summary=summary)


def telemetry(out: Path, provenance: Path, pins: dict[str, Manifest]
              ) -> tuple[TelemetrySummary, Path]:
    """GPU test sessions that ran in three of the images (two trusted, then a tampered one),
    accumulated with the provenance just written, and the self-contained HTML report."""
    import shutil

    from clamp.telemetry.aggregator import TemporalAggregator
    from clamp.telemetry.html_report import render_html
    from clamp.telemetry.samples import write_sample_sessions

    shutil.rmtree(out / "build" / "telemetry", ignore_errors=True)
    ran = ["6.3.4-ubuntu-22.04", "6.4.4-ubuntu-24.04", "6.1.2-ubuntu-22.04"]
    write_sample_sessions(out, [str(pins[tag].digest) for tag in ran])
    summary = TemporalAggregator(provenance=provenance).accumulate(out)
    report = out / "build" / "telemetry_report.html"
    write_atomic(report, render_html(summary))
    return summary, report
