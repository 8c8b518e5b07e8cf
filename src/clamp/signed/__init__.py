"""Signatures stored beside images: the room between the registry client and the crypto.

`locate` finds them (`.sig`/`.att` tags, signature and bundle referrers), `attach` stores them
where cosign does, `image` verifies one image (resolve, locate, judge with `clamp.trust`), `sign`
signs one and attaches the result. `clamp.oci` below moves bytes without knowing what a
signature is; `clamp.trust` below judges bytes without knowing where they came from; this
package is the only one that knows both.
"""
