"""A docker config.json or containers auth.json read the way docker and podman read it.

Both decode the file with Go's encoding/json into a struct: a key names a field whatever its
case (`"Auths"` is `auths`), the last key naming a field wins, and a map field named twice is
merged (the later entries over the earlier ones). Python's `json.loads` is exact and keeps only
the last spelling-identical key, so a config docker reads as credentials read as none here, or
the two readers took different entries. The struct fields of one `auths` entry (`username`,
`auth`, ...) are read the same way; the map keys (registry names) stay exact, as in Go.
"""

from __future__ import annotations

import json
from typing import Any

from clamp.strictjson import case_fold, go_strings

#: The fields of docker's ConfigFile and containers/image's dockerConfigFile clamp reads.
MAP_FIELDS = ("auths", "credHelpers")
STRING_FIELDS = ("credsStore",)
#: The fields of docker's AuthConfig (types.AuthConfig) that carry credentials.
ENTRY_FIELDS = ("username", "password", "auth", "identitytoken")


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its key/value pairs in document order (nothing merged yet)."""


def load_config(text: str) -> dict[str, Any] | None:
    """The fields clamp reads of a config file's text, as Go's decoder fills them: `auths` as
    {registry: {field: value}}, `credHelpers` as {registry: value}, `credsStore` as a value;
    None when the document is not an object. Raises ValueError on malformed JSON."""
    document = json.loads(text, object_pairs_hook=_Pairs)
    if not isinstance(document, _Pairs):
        return None
    fields = _struct(document, MAP_FIELDS + STRING_FIELDS, merge=MAP_FIELDS)
    config: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "auths" and isinstance(value, dict):
            value = {key: _struct(entry, ENTRY_FIELDS) if isinstance(entry, _Pairs) else entry
                     for key, entry in value.items()}
        config[name] = value
    read: dict[str, Any] = go_strings(_plain(config))
    return read


def _struct(pairs: _Pairs, names: tuple[str, ...], merge: tuple[str, ...] = ()) -> dict[str, Any]:
    """The struct fields `names` from `pairs`: exact or case-folded key, last one wins; a field
    in `merge` (a Go map) that appears again with an object takes the new entries over the old."""
    folded = {case_fold(name): name for name in names}
    out: dict[str, Any] = {}
    for key, value in pairs:
        name = key if key in names else folded.get(case_fold(key))
        if name is None:
            continue
        if name in merge and isinstance(value, _Pairs):
            earlier = out.get(name)
            table = dict(earlier) if isinstance(earlier, dict) else {}
            table.update(value)  # map keys exact; a repeated key: the last value
            out[name] = table
        else:
            out[name] = value
    return out


def _plain(value: Any) -> Any:
    """`value` with every remaining pair list an ordinary dict (last duplicate wins, as a Go map
    or as values the reader only passes on)."""
    if isinstance(value, _Pairs):
        return {key: _plain(item) for key, item in value}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
