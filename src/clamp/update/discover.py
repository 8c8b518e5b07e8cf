"""Finding newer releases: which registry tags name a higher version of a matrix entry.

A tag is a candidate only if it is exactly what the entry's tag template would produce for some
release version on the same OS: `6.4.10-ubuntu-22.04` fits `{version}-{os}`, while
`6.4.10-rc1-ubuntu-22.04`, `latest` or `6.4.10-ubuntu-24.04` do not. Versions compare
numerically component by component (6.4.10 > 6.4.9), and only plain dotted numbers count as
releases, so a pre-release or a build suffix is never mistaken for a newer version.

Entries that share registry, repository, tag template, OS and platform form one *line* of
releases: discovery proposes versions newer than the newest entry of the line (listed anywhere in
the matrix), so a version already in the matrix is never proposed again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Formatter

from clamp.matrix import ImageEntry, LoadedMatrix, effective
from clamp.pattern import Pattern, PatternError, compile_pattern, escape

_RELEASE = r"[0-9]+(?:\.[0-9]+)*"
_RELEASE_RE = re.compile(rf"\A{_RELEASE}\Z")
MAX_TAG = 128


def version_key(version: str) -> tuple[int, ...] | None:
    """Numeric sort key of a release version ("6.4.10" -> (6, 4, 10)); None if not one.

    Trailing zero components are dropped so "6.4" and "6.4.0" compare equal (the same release).
    """
    if len(version) > MAX_TAG or not _RELEASE_RE.match(version):
        return None  # a tag is at most 128 characters (and int() refuses 4300 digits)
    parts = [int(part) for part in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


class TagPattern:
    """The tags a template yields for release versions on one OS, matched in linear time.

    Registry tag lists are the registry's to choose, so the match runs on `clamp.pattern`'s RE2
    engine. RE2 has no back-references, so each `{version}` is a group of its own and the
    groups must be equal (`{version}-{os}-{version}` names one version twice).
    """

    def __init__(self, pieces: list[str]) -> None:
        try:
            self._pattern: Pattern | None = compile_pattern("".join(pieces))
        except PatternError:  # a template far longer than any tag: no tag can fit it
            self._pattern = None

    def version_of(self, tag: str) -> str | None:
        """The release version `tag` names, or None when it does not fit the template."""
        if self._pattern is None or len(tag) > MAX_TAG:
            return None
        groups = self._pattern.fullmatch_groups(tag)
        if not groups or any(group != groups[0] for group in groups):
            return None
        return groups[0]


def tag_pattern(template: str, os_name: str) -> TagPattern | None:
    """What matches the tags `template` yields for release versions on `os_name`.

    None when the template has no `{version}` field (nothing to discover).
    """
    pieces: list[str] = []
    has_version = False
    for literal, field, _spec, _conv in Formatter().parse(template):
        pieces.append(escape(literal))
        if field == "version":
            pieces.append(f"({_RELEASE})")
            has_version = True
        elif field == "os":
            pieces.append(escape(os_name))
    if not has_version:
        return None
    return TagPattern(pieces)


@dataclass(frozen=True)
class NewerTag:
    version: str
    tag: str
    key: tuple[int, ...]


def newer_tags(tags: list[str], template: str, os_name: str,
               than: tuple[int, ...]) -> list[NewerTag]:
    """Tags naming a release newer than `than` on `os_name`, newest first, one per version."""
    pattern = tag_pattern(template, os_name)
    if pattern is None:
        return []
    best: dict[tuple[int, ...], NewerTag] = {}
    for tag in tags:
        version = pattern.version_of(tag)
        if version is None:
            continue
        key = version_key(version)
        if key is None or key <= than:
            continue
        # "6.4" and "6.4.0" are one release: keep the shortest spelling, deterministically.
        found = NewerTag(version, tag, key)
        if key not in best or (len(version), version) < (len(best[key].version),
                                                          best[key].version):
            best[key] = found
    return sorted(best.values(), key=lambda item: item.key, reverse=True)


@dataclass(frozen=True)
class ReleaseLine:
    """Entries of one release line, and the newest of them (whose settings a new entry copies)."""

    registry: str
    repository: str
    template: str
    os: str
    platform: str | None
    newest: ImageEntry
    newest_key: tuple[int, ...]


def release_lines(loaded: LoadedMatrix, selected: list[ImageEntry]) -> list[ReleaseLine]:
    """The release lines the selected entries belong to, in matrix order.

    The newest version of a line is taken over every entry of the matrix, selected or not;
    versions that are not plain release numbers ("7.0.0-rc1") are left out of the comparison, and
    a line with none is skipped (there is no order to compare in).
    """
    model = loaded.model

    def line_of(entry: ImageEntry) -> tuple[str, str, str, str, str | None]:
        settings = effective(model, entry)
        return (settings.registry, settings.repository, settings.tag_template, entry.os,
                entry.platform)

    wanted = list(dict.fromkeys(line_of(entry) for entry in selected))
    lines: list[ReleaseLine] = []
    for key in wanted:
        members = [entry for entry in model.images if line_of(entry) == key]
        keyed = [(k, entry) for entry in members if (k := version_key(entry.version))]
        if not keyed:
            continue
        newest_key, newest = max(keyed, key=lambda item: item[0])
        registry, repository, template, os_name, platform = key
        lines.append(ReleaseLine(registry, repository, template, os_name, platform, newest,
                                 newest_key))
    return lines
