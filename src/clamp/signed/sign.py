"""Sign an image in a store and push the signature where cosign would put it (`clamp sign`)."""

from __future__ import annotations

from clamp.oci.manifest import Manifest, Platform
from clamp.oci.reference import Reference
from clamp.oci.resolve import resolve
from clamp.oci.store import ImageStore
from clamp.signed.attach import push_bundle_referrer, push_legacy_signature
from clamp.trust.keys import PrivateKeyTypes


async def sign_and_push(store: ImageStore, ref: Reference, private_key: PrivateKeyTypes, *,
                        platform: Platform | None = None, bundle: bool = False) -> list[str]:
    """Sign the resolved digest (and a platform child when asked); return what was pushed."""
    from clamp.trust.sign import sign_image_bundle, sign_image_legacy

    image = await resolve(store, ref, platform)
    targets: list[Manifest] = [image.manifest]
    if image.platform_manifest is not None:
        targets.append(image.platform_manifest)
    docker_reference = ref.name
    done: list[str] = []
    for manifest in targets:
        digest = str(manifest.digest)
        layer = sign_image_legacy(private_key, digest, docker_reference)
        sig = await push_legacy_signature(store, ref.repository, manifest.digest, layer.payload,
                                          dict(layer.annotations), media_type=layer.media_type)
        done.append(f"signed {docker_reference}@{digest}: pushed {manifest.digest.tag_form}.sig "
                    f"({sig})")
        if bundle:
            referrer = await push_bundle_referrer(
                store, ref.repository, manifest,
                sign_image_bundle(private_key, digest, docker_reference))
            done.append(f"signed {docker_reference}@{digest}: pushed bundle referrer {referrer}")
    return done
