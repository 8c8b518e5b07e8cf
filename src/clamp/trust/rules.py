"""Judge a composed policy (`clamp.trust.policy`) over the signatures that verified.

Each signature was verified on its own first (chain, log, payload digest, and for a
certificate the identities it is, `Signer.matched_identities`); here only the question "do
these signers satisfy the tree" is answered, offline and in time polynomial in the tree:

- an `Identity` is satisfied by a signature whose certificate is that identity, a `Key` by a
  signature that verified with that key;
- `AnyOf` by any member;
- `AllOf(threshold=k)` by k members matched to k **distinct signers** (a maximum bipartite
  matching between members and signers, each member a one-signature rule). Stricter than
  policy-controller, where each authority is checked alone and one signature may satisfy two
  authorities whose identities overlap: "two of three maintainers" must mean two signers.
  Signers, not signatures: an attacker holding one honest signature can store it twice (two
  layers, a `.sig` tag and a referrer) or malleate it (ECDSA's (r, n-s) verifies too), and every
  copy verifies on its own. So a key is one signer (its fingerprint), and a certificate identity
  is one signer (its issuer and SAN), however many signatures or certificates it has; and a key
  that signed under a certificate is that certificate's signer too (red team 14: a `.sig` layer
  signed with the policy's key K under a certificate for the policy's identity I, copied
  without its certificate annotation, verified as K alone, its log entry still naming a
  certificate of K, and one signature met "K and I").

A failure is a `PolicyUnmetError` (an identity mismatch: the signatures are sound, the signers
are not enough) whose `path` names the sub-policy that failed (`all-of`, `all-of[2]`,
`any-of[1].all-of`) and whose reason says why.
"""

from __future__ import annotations

from collections.abc import Sequence

from clamp.trust.errors import IdentityMismatchError
from clamp.trust.policy import AllOf, AnyOf, Identity, Key, Rule
from clamp.trust.result import VerificationResult


class PolicyUnmetError(IdentityMismatchError):
    """Sound signatures whose signers do not satisfy the policy; `path` names the part."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__("policy", f"{path}: {reason}")


def _serves(leaf: Identity | Key, result: VerificationResult) -> bool:
    signer = result.signer
    if signer is None or not result.ok:
        return False
    if isinstance(leaf, Key):
        return signer.key_fingerprint == leaf.key.fingerprint
    return leaf in signer.matched_identities


def signer_of(result: VerificationResult) -> tuple[str, ...] | None:
    """Who made `result`, as a threshold counts signers: a certificate's issuer and SAN, else
    the key's fingerprint (None for a result with no signer, which serves no rule)."""
    names = signer_names(result)
    return names[0] if names else None


def signer_names(result: VerificationResult) -> tuple[tuple[str, ...], ...]:
    """Every name `result`'s signer goes by: a certificate's identity (issuer and SAN) and the
    key that signed (the certificate's, or the policy key's). Two results sharing any name are
    one signer."""
    signer = result.signer
    if signer is None:
        return ()
    names: list[tuple[str, ...]] = []
    if signer.identity is not None or signer.certificate_fingerprint is not None:
        names.append(("identity", signer.issuer or "", signer.identity or ""))
    if signer.signing_key is not None or not names:
        names.append(("key", signer.signing_key or ""))
    return tuple(names)


def _signers(results: Sequence[VerificationResult]) -> dict[int, int]:
    """Each result with a signer -> the first result of the same signer, results sharing a
    name joined transitively (a key signing alone and under a certificate of an identity,
    that identity under another certificate: one signer)."""
    parent: dict[int, int] = {}

    def find(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    first: dict[tuple[str, ...], int] = {}
    for n, result in enumerate(results):
        names = signer_names(result)
        if not names:
            continue
        parent[n] = n
        for name in names:
            if name in first:
                a, b = find(first[name]), find(n)
                parent[max(a, b)] = min(a, b)
            else:
                first[name] = n
    return {n: find(n) for n in parent}


def _candidates(rule: Rule, results: Sequence[VerificationResult]) -> set[int]:
    """Signatures that satisfy the one-signature rule `rule` alone."""
    if isinstance(rule, Identity | Key):
        return {n for n, r in enumerate(results) if _serves(rule, r)}
    out: set[int] = set()
    for member in rule.members:  # AnyOf, or an AllOf needing one (AllOf checked that)
        out |= _candidates(member, results)
    return out


def _name(rule: Rule) -> str:
    return "any-of" if isinstance(rule, AnyOf) else "all-of" if isinstance(rule, AllOf) \
        else "identity" if isinstance(rule, Identity) else "key"


def satisfy(rule: Rule, results: Sequence[VerificationResult], path: str = "") -> list[int]:
    """Indices of `results` that together satisfy `rule`; `PolicyUnmetError` otherwise."""
    here = path or _name(rule)
    if isinstance(rule, Identity | Key):
        found = sorted(_candidates(rule, results))
        if not found:
            raise PolicyUnmetError(here, f"no verified signature from {rule.describe()}")
        return found[:1]
    if isinstance(rule, AnyOf):
        reasons = []
        for n, member in enumerate(rule.members):
            try:
                return satisfy(member, results, f"{here}[{n}]")
            except PolicyUnmetError as exc:
                reasons.append(exc.reason)
        if len(reasons) == 1:
            raise PolicyUnmetError(here, reasons[0])
        raise PolicyUnmetError(here, f"none of {len(reasons)} satisfied: "
                               + "; ".join(reasons)[:1500])
    return _all_of(rule, results, here)


def _all_of(rule: AllOf, results: Sequence[VerificationResult], here: str) -> list[int]:
    # Match members to signers; each signer is represented by its first verified signature.
    stand_for = _signers(results)
    options = [sorted({stand_for[n] for n in _candidates(m, results) if n in stand_for})
               for m in rule.members]
    owner: dict[int, int] = {}  # signer (its first signature) -> member it counts for

    def augment(member: int, seen: set[int]) -> bool:  # Kuhn's augmenting path
        for sig in options[member]:
            if sig in seen:
                continue
            seen.add(sig)
            if sig not in owner or augment(owner[sig], seen):
                owner[sig] = member
                return True
        return False

    for member in range(len(rule.members)):
        augment(member, set())
    if len(owner) >= rule.needed:
        return sorted(owner)
    counted = set(owner.values())
    unmet = [f"[{n}] {m.describe()}"
             + (" (its signer already counts for another member)" if options[n] else "")
             for n, m in enumerate(rule.members) if n not in counted]
    raise PolicyUnmetError(here, f"{rule.needed} of {len(rule.members)} signers needed, each "
                           f"a signer of its own; {len(owner)} met; not met: "
                           + "; ".join(unmet)[:1500])


__all__ = ["PolicyUnmetError", "satisfy", "signer_names", "signer_of"]
