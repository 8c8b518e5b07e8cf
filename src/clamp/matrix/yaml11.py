"""YAML 1.1 plain scalars as PyYAML reads them: what the origin's scripts saw in their files.

clamp parses YAML with ruamel.yaml (YAML 1.2), where `yes`, `off` and `010` are a string, a
string and ten. The origin read the same files with PyYAML's `safe_load` (YAML 1.1), where they
are True, False and eight, and then took `str()` of them. To give the origin's answers on the
origin's files, the original layout's scalars are re-read here by YAML 1.1's implicit types (the
regular expressions of yaml.org/type: bool, int, float, null, timestamp). The same rules tell
`clamp matrix migrate` which strings a YAML 1.1 reader would misread unless they are quoted.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

_BOOL = {"yes": True, "Yes": True, "YES": True, "true": True, "True": True, "TRUE": True,
         "on": True, "On": True, "ON": True, "no": False, "No": False, "NO": False,
         "false": False, "False": False, "FALSE": False, "off": False, "Off": False,
         "OFF": False}
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)"
                  r"|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
                    r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
                    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}"
                        r":[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?$")
# YAML 1.2 core schema non-strings (what ruamel and other 1.2 readers resolve), for quoting.
_CORE12 = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
                     r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
                     r"|true|True|TRUE|false|False|FALSE|~|null|Null|NULL|)$")


def _sexagesimal(text: str) -> float:
    total = 0.0
    for part in text.split(":"):
        total = total * 60 + float(part)
    return total


def _int(text: str) -> int:
    value = text.replace("_", "")
    sign = -1 if value[:1] == "-" else 1
    value = value.lstrip("+-")
    if value == "0":
        return 0
    if value.startswith("0b"):
        return sign * int(value[2:], 2)
    if value.startswith("0x"):
        return sign * int(value[2:], 16)
    if value.startswith("0"):
        return sign * int(value, 8)
    if ":" in value:
        return sign * int(_sexagesimal(value))
    return sign * int(value)


def _float(text: str) -> float:
    value = text.replace("_", "").lower()
    sign = -1.0 if value[:1] == "-" else 1.0
    value = value.lstrip("+-")
    if value == ".inf":
        return sign * float("inf")
    if value == ".nan":
        return float("nan")
    if ":" in value:
        return sign * _sexagesimal(value)
    return sign * float(value)


def resolve_plain(text: str) -> Any:
    """The value PyYAML's safe_load gives an unquoted scalar written as `text`.

    Timestamps with a time of day are returned as the text (no matrix field is one); dates
    become `date`, as PyYAML makes them.
    """
    if text in _BOOL:
        return _BOOL[text]
    if _NULL.match(text):
        return None
    if _INT.match(text):
        return _int(text)
    if _FLOAT.match(text):
        return _float(text)
    match = _DATE.match(text)
    if match:
        try:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return text  # PyYAML raises on an impossible date; the caller sees text
    return text


def origin_str(value: Any) -> str:
    """`str(value).strip()`, as the origin's scripts turned a YAML value into a name."""
    return str(value).strip()


def needs_quotes(text: str) -> bool:
    """True when a plain `text` would not read back as this string in YAML 1.1 or 1.2."""
    if text != text.strip() or not text:
        return True
    if text in _BOOL or _NULL.match(text) or _INT.match(text) or _FLOAT.match(text):
        return True
    if _DATE.match(text) or _TIMESTAMP.match(text):
        return True
    return bool(_CORE12.match(text)) or text in ("y", "Y", "n", "N", "<<", "=")
