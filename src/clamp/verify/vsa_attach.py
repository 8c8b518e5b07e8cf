"""`clamp verify --matrix --vsa ... --attach`: each VSA pushed to its image as an OCI referrer.

The envelope (its line in the VSA file, with an empty `keyid`: `vsa_bundle`) is wrapped in a
sigstore bundle v0.3 with public-key verification material, as `clamp sign --bundle-format`
stores signatures, and stored as a referrer of the pinned digest with the tag-schema fallback.
Readers find it the way they find attestation bundles: `clamp verify --image REF --key vsa.pub
--attestation-type https://slsa.dev/verification_summary/v1`, or `cosign verify-attestation
--new-bundle-format`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from clamp.errors import BadInputError
from clamp.oci.store import Stores
from clamp.signed.attach import push_bundle_referrer
from clamp.trust.keys import PrivateKeyTypes, public_of
from clamp.trust.mediatypes import BUNDLE_V03_MEDIA_TYPE, VSA_PREDICATE
from clamp.verify.pipeline import EntryOutcome
from clamp.verify.provenance import ProvenanceDocument
from clamp.verify.vsa import sign_envelope, statement


def vsa_bundle(envelope: dict[str, Any], private_key: PrivateKeyTypes) -> bytes:
    """The envelope in a v0.3 bundle, its signatures' `keyid` empty (as cosign writes bundles):
    sigstore-go skips a bundle signature whose keyid is not the key's OpenSSH fingerprint, and
    the VSA file's keyid (the SPKI's SHA-256, for securesystemslib) is not. The keyid is outside
    the DSSE PAE, so payload and signature are the line's, unchanged."""
    hint = base64.b64encode(hashlib.sha256(public_of(private_key).der).digest()).decode()
    unlabelled = {**envelope, "signatures": [{**sig, "keyid": ""}
                                             for sig in envelope["signatures"]]}
    return json.dumps({"mediaType": BUNDLE_V03_MEDIA_TYPE,
                       "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
                       "dsseEnvelope": unlabelled}, separators=(",", ":")).encode()


async def attach_vsas(stores: Stores, document: ProvenanceDocument,
                      outcomes: Sequence[EntryOutcome], private_key: PrivateKeyTypes
                      ) -> list[str]:
    """Push one VSA per pinned record to its image; the lines to print (referrer digests).
    Registry errors propagate (the caller reports them, exit 69): the files are already written.
    """
    own = public_of(private_key).fingerprint
    trusted = {key.fingerprint for o in outcomes for p in o.trust.policies for key in p.keys}
    if own in trusted:
        # A VSA is an attestation bundle: signed by a key the matrix trusts for images, it would
        # satisfy `attest_mode: required` (any predicate type) for the very image it failed.
        raise BadInputError("the VSA key is a key the matrix trusts for its images; attach VSAs "
                            "signed with a dedicated key", where="--vsa-key")
    done: list[str] = []
    for record, outcome in zip(document.records, outcomes, strict=True):
        if record.digest is None:
            continue
        ref = outcome.verification.reference
        store = stores.open(ref)
        subject = await store.get_manifest(ref.repository, record.digest)
        envelope = sign_envelope(private_key, statement(record, document))
        referrer = await push_bundle_referrer(store, ref.repository, subject,
                                              vsa_bundle(envelope, private_key),
                                              predicate_type=VSA_PREDICATE)
        done.append(f"{record.entry}: VSA attached to {record.digest} as referrer {referrer}")
    return done
