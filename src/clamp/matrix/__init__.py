"""The image matrix: which images CI may run, pinned by digest, and who must have signed them.

Import surface for the rest of clamp. Loading needs pydantic and ruamel.yaml only (no network or
crypto libraries), so a pinned `clamp resolve` stays fast.
"""

from clamp.digest import DigestKind, classify, is_digest
from clamp.matrix.loader import LoadedMatrix, load, load_text
from clamp.matrix.models import (
    Defaults,
    Dispatch,
    ImageEntry,
    KeylessIdentity,
    KeyRef,
    MatrixFile,
    ResolvePrefs,
    TrustPolicy,
    entry_id,
)
from clamp.matrix.select import ImageRef, Selection, effective, image_ref, select_image
from clamp.matrix.source import MatrixError, Problem

__all__ = [
    "Defaults",
    "DigestKind",
    "Dispatch",
    "ImageEntry",
    "ImageRef",
    "KeyRef",
    "KeylessIdentity",
    "LoadedMatrix",
    "MatrixError",
    "MatrixFile",
    "Problem",
    "ResolvePrefs",
    "Selection",
    "TrustPolicy",
    "classify",
    "effective",
    "entry_id",
    "image_ref",
    "is_digest",
    "load",
    "load_text",
    "select_image",
]
