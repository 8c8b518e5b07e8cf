"""A bounded XML reader for GPU snapshots: no entities, no internal DTD, no external fetches.

`nvidia-smi -q -x` output names an external DTD (`<!DOCTYPE nvidia_smi_log SYSTEM
"nvsmi_device_v12.dtd">`) that is never fetched; a snapshot is a file anyone in the CI job could
have written, so anything more than that is refused before it can expand: an internal DTD subset
(where a "billion laughs" document declares its entities), any entity declaration, external
entity references. The tree is built without recursion, and its depth and element count are
bounded, so a hostile file costs at most one pass over its (already size-bounded) bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.parsers import expat

#: Deepest nesting accepted (nvidia-smi's is 6).
MAX_DEPTH = 64
#: Most elements accepted (a 16-GPU snapshot with every supported clock listed is ~20,000).
MAX_ELEMENTS = 500_000


@dataclass
class Element:
    """One XML element: its tag, attributes, text (stripped) and child elements in order."""

    tag: str
    attrib: dict[str, str]
    children: list[Element] = field(default_factory=list)
    _text: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self._text).strip()

    def find(self, path: str) -> Element | None:
        """The first element at a '/'-separated path of child tags, or None."""
        node: Element | None = self
        for part in path.split("/"):
            if node is None:
                return None
            node = next((c for c in node.children if c.tag == part), None)
        return node

    def findall(self, tag: str) -> list[Element]:
        return [c for c in self.children if c.tag == tag]


class _Refused(ValueError):
    pass


def parse_xml(data: bytes) -> Element:
    """Parse `data` into an `Element` tree; raises ValueError naming what was wrong."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[Element] = []
    root: list[Element] = []
    count = 0

    def doctype(_name: str, _system: str | None, _public: str | None, internal: int) -> None:
        if internal:
            raise _Refused("DTD with an internal subset refused")

    def entity(*_args: object) -> None:
        raise _Refused("entity declaration refused")

    def external(*_args: object) -> int:
        raise _Refused("external entity refused")

    def start(tag: str, attrib: dict[str, str]) -> None:
        nonlocal count
        count += 1
        if count > MAX_ELEMENTS:
            raise _Refused(f"more than {MAX_ELEMENTS} elements")
        if len(stack) >= MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH}")
        element = Element(tag, dict(attrib))
        if stack:
            stack[-1].children.append(element)
        else:
            root.append(element)
        stack.append(element)

    def end(_tag: str) -> None:
        stack.pop()

    def text(chars: str) -> None:
        if stack:
            stack[-1]._text.append(chars)

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    parser.ExternalEntityRefHandler = external
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(data, True)
    except _Refused:
        raise
    except expat.ExpatError as exc:
        raise ValueError(f"not valid XML: {exc}") from exc
    if not root:
        raise ValueError("not valid XML: no root element")
    return root[0]
