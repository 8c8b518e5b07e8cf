"""Store signatures beside an image, where cosign puts them (and where `clamp.signed.locate`
finds them): a layer added to the `.sig` manifest, or a sigstore bundle as an OCI 1.1 referrer
recorded in the referrers tag-schema fallback index too.
"""

from __future__ import annotations

import json

from clamp.digest import Digest, digest_of
from clamp.errors import NotFoundError
from clamp.oci.manifest import OCI_EMPTY_CONFIG, OCI_INDEX, OCI_MANIFEST, Manifest, encode_json
from clamp.oci.store import ImageStore
from clamp.signed.locate import sig_tag
from clamp.trust.mediatypes import (
    ANN_BUNDLE_CONTENT,
    ANN_BUNDLE_PREDICATE_TYPE,
    BUNDLE_V03_MEDIA_TYPE,
    COSIGN_SIGN_PREDICATE,
    SIMPLESIGNING_MEDIA_TYPE,
)

EMPTY_JSON = b"{}"


async def push_legacy_signature(store: ImageStore, repo: str, subject: Digest, payload: bytes,
                                annotations: dict[str, str], *,
                                media_type: str = SIMPLESIGNING_MEDIA_TYPE,
                                tag: str | None = None) -> Digest:
    """Add one signed layer to the subject's `.sig` manifest (creating it), as cosign does."""
    tag = tag or sig_tag(subject)
    layers: list[dict[str, object]] = []
    try:
        existing = await store.get_manifest(repo, tag)
        layers = list(existing.body.get("layers") or [])
    except NotFoundError:
        pass
    payload_digest = await store.put_blob(repo, payload)
    new_layer = {"mediaType": media_type, "size": len(payload), "digest": str(payload_digest),
                 "annotations": annotations}
    layers = [layer for layer in layers if layer != new_layer] + [new_layer]
    config = encode_json({"architecture": "", "os": "", "config": {}, "rootfs": {
        "type": "layers", "diff_ids": [d["digest"] for d in layers if isinstance(d, dict)]}})
    config_digest = await store.put_blob(repo, config)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "size": len(config), "digest": str(config_digest)},
                "layers": layers}
    return await store.put_manifest(repo, tag, encode_json(manifest), OCI_MANIFEST)


async def push_bundle_referrer(store: ImageStore, repo: str, subject: Manifest,
                               bundle: bytes, *,
                               predicate_type: str = COSIGN_SIGN_PREDICATE) -> Digest:
    """Store a bundle as a referrer of `subject` and record it in the tag-schema fallback index
    (registries without the referrers API find it there; those with it index it themselves).
    `predicate_type` is only the annotation cosign writes beside it; readers check the
    statement itself."""
    empty = await store.put_blob(repo, EMPTY_JSON)
    bundle_digest = await store.put_blob(repo, bundle)
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE_V03_MEDIA_TYPE,
        "config": {"mediaType": OCI_EMPTY_CONFIG, "size": len(EMPTY_JSON), "digest": str(empty)},
        "layers": [{"mediaType": BUNDLE_V03_MEDIA_TYPE, "size": len(bundle),
                    "digest": str(bundle_digest)}],
        "subject": {"mediaType": subject.media_type, "size": len(subject.raw),
                    "digest": str(subject.digest)},
        "annotations": {ANN_BUNDLE_CONTENT: "dsse-envelope",
                        ANN_BUNDLE_PREDICATE_TYPE: predicate_type},
    }
    raw = encode_json(manifest)
    referrer = await store.put_manifest(repo, str(digest_of(raw)), raw, OCI_MANIFEST)
    fallback_tag = subject.digest.referrers_tag
    try:
        index = (await store.get_manifest(repo, fallback_tag, accept=(OCI_INDEX,))).body
    except NotFoundError:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    entries = [m for m in index.get("manifests", []) if m.get("digest") != str(referrer)]
    entries.append({"mediaType": OCI_MANIFEST, "size": len(raw), "digest": str(referrer),
                    "artifactType": BUNDLE_V03_MEDIA_TYPE,
                    "annotations": manifest["annotations"]})
    index["manifests"] = entries
    await store.put_manifest(repo, fallback_tag, json.dumps(index).encode(), OCI_INDEX)
    return referrer

