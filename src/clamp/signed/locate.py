"""Find the signatures stored beside an image: where cosign and sigstore keep them.

Legacy cosign: tag `sha256-<hex>.sig` (attestations `.att`) holding an image manifest whose layers
are the signed payloads, with the signature material in layer annotations. The same manifests
stored as OCI 1.1 referrers (cosign's `--registry-referrers-mode=oci-1-1`: artifactType
`COSIGN_SIG_ARTIFACT`, `COSIGN_ATT_ARTIFACT` for attestations) are read too. New format: a
sigstore bundle stored as an OCI 1.1 referrer (artifactType one of `BUNDLE_ARTIFACT_TYPES`).
Referrers are found through the referrers API or the `sha256-<hex>` tag-schema fallback index
(`clamp.oci` does that part: it knows referrers, not what they mean).

This module only moves bytes: every blob is bounded and digest-checked, and the crypto layer
(`clamp.trust`) decides what they prove.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from clamp.digest import Digest
from clamp.errors import ClampError, NotFoundError, RegistryError
from clamp.oci.manifest import DOCKER_MANIFEST, OCI_MANIFEST, Descriptor, Manifest
from clamp.oci.store import ImageStore
from clamp.trust.mediatypes import (
    BUNDLE_ARTIFACT_TYPES,
    COSIGN_ATT_ARTIFACT,
    COSIGN_SIG_ARTIFACT,
    MAX_SIGNATURE_LAYERS,
)

MAX_SIGNATURE_BLOB = 4 * 1024 * 1024
# cosign's bound on the layers of one signature manifest (ociremote maxLayers): a registry that
# can append layers must not be able to push a valid signature out of reach below it.
MAX_LAYERS = MAX_SIGNATURE_LAYERS
# What all the layers of one manifest may cost together; the smallest are fetched first, so
# junk layers crowding out a ~300-byte signature would need to be smaller than it.
MAX_SIGNATURE_BYTES_TOTAL = 64 * 1024 * 1024
LAYER_CONCURRENCY = 16
MAX_REFERRERS = 128


@dataclass(frozen=True)
class SignedLayer:
    """One layer of a `.sig`/`.att` manifest: the payload bytes and its annotations."""

    index: int
    media_type: str
    payload: bytes
    annotations: dict[str, str]
    digest: Digest


@dataclass(frozen=True)
class BundleArtifact:
    """A sigstore bundle found as a referrer of the image."""

    referrer: Digest  # the referrer manifest's digest
    media_type: str
    bundle: bytes


@dataclass
class SignatureSet:
    """Everything signature-like found for one manifest digest, plus what could not be read."""

    subject: Digest
    legacy: list[SignedLayer] = field(default_factory=list)
    attestations: list[SignedLayer] = field(default_factory=list)
    bundles: list[BundleArtifact] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Layers the registry served wrongly (digest mismatch, refused fetch): each skipped, never
    # trusted, and never a reason to leave the other layers untried.
    layer_errors: list[ClampError] = field(default_factory=list)
    sig_manifest: Digest | None = None
    att_manifest: Digest | None = None

    @property
    def empty(self) -> bool:
        return not (self.legacy or self.attestations or self.bundles)


def sig_tag(digest: Digest) -> str:
    return f"{digest.tag_form}.sig"


def att_tag(digest: Digest) -> str:
    return f"{digest.tag_form}.att"


async def fetch_signatures(store: ImageStore, repo: str, subject: Digest, *,
                           attestations: bool = False) -> SignatureSet:
    """Fetch legacy signatures, signature referrers and (when asked) attestations, concurrently.

    A missing tag is simply absence. A registry failure is raised, so "could not look" is never
    reported as "unsigned".
    """
    found = SignatureSet(subject=subject)
    sig, att, (bundles, ref_sig, ref_att) = await asyncio.gather(
        _layers(store, repo, sig_tag(subject), found),
        _layers(store, repo, att_tag(subject), found) if attestations else _nothing(),
        _referrers(store, repo, subject, found, attestations=attestations),
    )
    found.legacy, found.attestations, found.bundles = sig + ref_sig, att + ref_att, bundles
    return found


async def _nothing() -> list[SignedLayer]:
    return []


async def _layers(store: ImageStore, repo: str, tag: str, found: SignatureSet) -> list[SignedLayer]:
    try:
        manifest = await store.get_manifest(repo, tag, accept=(OCI_MANIFEST, DOCKER_MANIFEST))
    except NotFoundError:
        return []
    if tag.endswith(".sig"):
        found.sig_manifest = manifest.digest
    else:
        found.att_manifest = manifest.digest
    if manifest.is_index:
        found.problems.append(f"{tag} is an index, not a signature manifest")
        return []
    return await _signed_layers(store, repo, manifest, tag, found,
                                signatures=tag.endswith(".sig"))


async def _signed_layers(store: ImageStore, repo: str, manifest: Manifest, name: str,
                         found: SignatureSet, *, signatures: bool) -> list[SignedLayer]:
    """The layers of a `.sig`/`.att`-shaped manifest, each blob bounded and digest-checked.

    A layer that cannot be fetched or fails its digest is recorded (`found.problems`,
    `found.layer_errors`) and skipped: the others are still tried, in manifest order.
    """
    layers = manifest.layers
    if len(layers) > MAX_LAYERS:
        raise RegistryError(f"{name} has {len(layers)} layers (bound {MAX_LAYERS})",
                            where=f"{repo}:{name}")
    budget = MAX_SIGNATURE_BYTES_TOTAL
    chosen: set[int] = set()
    counted: set[tuple[Digest, int]] = set()
    for i in sorted(range(len(layers)), key=lambda n: (layers[n].size, n)):
        desc = layers[i]
        cost = 0 if (desc.digest, desc.size) in counted else desc.size
        if desc.size > MAX_SIGNATURE_BLOB:
            found.problems.append(f"{name} layer {i}: {desc.size} bytes exceeds the bound")
        elif cost > budget:
            found.problems.append(f"{name} layer {i}: not fetched, the layers' total exceeds "
                                  f"{MAX_SIGNATURE_BYTES_TOTAL} bytes")
        else:
            budget -= cost
            counted.add((desc.digest, desc.size))
            chosen.add(i)
    gate = asyncio.Semaphore(LAYER_CONCURRENCY)
    # One fetch per distinct blob: a digest names its bytes, so a layer repeated 999 times costs
    # one request (and one budget share), whatever its annotations.
    fetches: dict[tuple[Digest, int], asyncio.Task[bytes]] = {}

    async def fetch(desc: Descriptor) -> bytes:
        async with gate:
            # Never more than the manifest declared (ggcr checks the size too).
            return await store.get_blob(repo, desc.digest, max_bytes=desc.size)

    async def one(i: int, desc: Descriptor) -> SignedLayer | None:
        if i not in chosen:
            return None
        key = (desc.digest, desc.size)
        if key not in fetches:
            fetches[key] = asyncio.ensure_future(fetch(desc))
        try:
            payload = await fetches[key]
        except ClampError as exc:
            found.problems.append(f"{name} layer {i}: {exc}")
            if signatures:  # what the signature verdict falls back on when nothing verifies
                found.layer_errors.append(_about_layer(exc, f"{name} layer {i}"))
            return None
        return SignedLayer(i, desc.media_type, payload, desc.annotations, desc.digest)

    results = await asyncio.gather(*(one(i, d) for i, d in enumerate(layers)))
    return [r for r in results if r is not None]


def _about_layer(exc: ClampError, label: str) -> ClampError:
    """`exc`, of the same class (a digest mismatch stays one), saying which layer it was."""
    try:
        return type(exc)(f"{label}: {exc.message}", where=exc.where)
    except TypeError:  # a subclass with its own constructor
        return RegistryError(f"{label}: {exc}")


async def _referrers(store: ImageStore, repo: str, subject: Digest, found: SignatureSet, *,
                     attestations: bool) -> tuple[list[BundleArtifact], list[SignedLayer],
                                                  list[SignedLayer]]:
    """Sigstore bundles, and cosign signatures (attestations when asked) stored as referrers."""
    referrers = await store.referrers(repo, subject)
    kinds = dict.fromkeys(BUNDLE_ARTIFACT_TYPES, "bundle") | {COSIGN_SIG_ARTIFACT: "sig"}
    if attestations:
        kinds[COSIGN_ATT_ARTIFACT] = "att"
    wanted = [(kind, d) for d in referrers if (kind := kinds.get(d.artifact_type or ""))]
    if len(wanted) > MAX_REFERRERS:
        raise RegistryError(f"{len(wanted)} signature referrers (bound {MAX_REFERRERS})",
                            where=f"{repo}@{subject}")

    async def manifest_of(desc: Descriptor) -> Manifest | None:
        try:
            manifest = await store.get_manifest(repo, str(desc.digest))
        except ClampError as exc:
            found.problems.append(f"referrer {desc.digest}: {exc}")
            return None
        subj = manifest.subject
        if subj is not None and subj.digest != subject:
            found.problems.append(f"referrer {desc.digest} names another subject {subj.digest}")
            return None
        if manifest.is_index or not manifest.layers:
            found.problems.append(f"referrer {desc.digest} has no layer")
            return None
        return manifest

    async def bundle(desc: Descriptor) -> BundleArtifact | None:
        manifest = await manifest_of(desc)
        if manifest is None:
            return None
        layer = manifest.layers[0]
        if layer.size > MAX_SIGNATURE_BLOB:
            found.problems.append(f"referrer {desc.digest}: bundle too large")
            return None
        try:
            data = await store.get_blob(repo, layer.digest,
                                        max_bytes=min(layer.size, MAX_SIGNATURE_BLOB))
        except ClampError as exc:  # skipped like a bad layer: it must not deny the others
            found.problems.append(f"referrer {desc.digest}: {exc}")
            found.layer_errors.append(_about_layer(exc, f"referrer {desc.digest}"))
            return None
        return BundleArtifact(manifest.digest, layer.media_type, data)

    async def signed(desc: Descriptor, kind: str) -> list[SignedLayer]:
        manifest = await manifest_of(desc)
        if manifest is None:
            return []
        return await _signed_layers(store, repo, manifest, f"referrer {desc.digest}", found,
                                    signatures=kind == "sig")

    bundles, sigs, atts = await asyncio.gather(
        asyncio.gather(*(bundle(d) for kind, d in wanted if kind == "bundle")),
        asyncio.gather(*(signed(d, kind) for kind, d in wanted if kind == "sig")),
        asyncio.gather(*(signed(d, kind) for kind, d in wanted if kind == "att")))
    return ([b for b in bundles if b is not None], [x for group in sigs for x in group],
            [x for group in atts for x in group])
