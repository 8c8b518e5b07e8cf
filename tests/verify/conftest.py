"""A demo world per test module: sample images in an OCI layout, signed every way, a matrix."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clamp.demo.scenario import REPOSITORY, DemoResult, run_demo
from clamp.location import Layout
from clamp.oci.reference import Reference


def build_demo(out: Path) -> DemoResult:
    layout = out / "layout"
    where = Layout(str(layout))
    return asyncio.run(run_demo(out, open_store=lambda s: s.open(Reference(where, REPOSITORY)),
                                location=where))


@pytest.fixture(scope="module")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return build_demo(tmp_path_factory.mktemp("demo"))
