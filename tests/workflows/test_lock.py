"""requirements/ci.lock, the workflows' hash-locked install, is complete and fresh.

Fresh: its header carries the SHA-256 of what it was compiled from (pyproject.toml's
dependencies and requirements/build.in), so changing a dependency without `scripts/lock` fails
here. Complete: every package has hashes (pip's --require-hashes refuses the file otherwise),
every direct dependency is pinned inside its declared range, and the build backend is there.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "ci.lock"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+) \\$")


def pins() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes)."""
    found: dict[str, tuple[str, list[str]]] = {}
    current: str | None = None
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            assert current not in found, f"{current} pinned twice"
            found[current] = (match.group(2), [])
            continue
        hashed = re.fullmatch(r"\s+--hash=sha256:([0-9a-f]{64})( \\)?", line)
        assert hashed and current, f"unexpected lock line: {line!r}"
        found[current][1].append(hashed.group(1))
    return found


def test_lock_is_fresh() -> None:
    header = re.search(r"^# inputs-sha256: ([0-9a-f]{64})$", LOCK.read_text(), re.M)
    assert header, "requirements/ci.lock has no inputs-sha256 header: run scripts/lock"
    now = subprocess.run([sys.executable, str(ROOT / "scripts/lock-inputs-sha256")],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert header.group(1) == now, "pyproject.toml or requirements/build.in changed: run " \
        "scripts/lock and commit requirements/ci.lock"


def test_every_package_is_hashed_and_every_dependency_pinned_in_range() -> None:
    locked = pins()
    assert all(hashes for _, hashes in locked.values())
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    build = [line.split("#", 1)[0].strip()
             for line in (ROOT / "requirements" / "build.in").read_text().splitlines()]
    for text in [*deps, *filter(None, build)]:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in locked, f"{name} is not in requirements/ci.lock"
        assert req.specifier.contains(locked[name][0]), (name, locked[name][0], text)
    assert "sigstore" not in locked and "click" not in locked  # neither is clamp's
