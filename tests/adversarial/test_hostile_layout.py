"""A hostile OCI layout directory (`oci:DIR`) against the bounds, each with its honest twin.

A layout may come from anyone (a build artifact, a pull request's checkout). Its files' sizes
were taken from `stat` and then read whole, so a file whose size is not its length (a link to a
/proc file: size 0, megabytes to read; a file that grows after the stat) was read past the bound
into memory, and a FIFO put in place after the `is_file()` check blocked the open forever
(session 12). The read itself is bounded now, on the descriptor it opened.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from clamp.demo.images import put_image
from clamp.errors import RegistryError
from clamp.location import Layout
from clamp.oci.layout import LayoutStore, _read_bounded
from clamp.oci.manifest import MAX_MANIFEST_BYTES
from clamp.oci.reference import Reference
from clamp.oci.resolve import resolve

KALLSYMS = Path("/proc/kallsyms")


def _kallsyms_past_the_bound() -> bool:
    """/proc/kallsyms says 0 bytes and holds megabytes (5 MB on a usual kernel)."""
    try:
        with KALLSYMS.open("rb") as file:
            return len(file.read(MAX_MANIFEST_BYTES + 1)) > MAX_MANIFEST_BYTES
    except OSError:
        return False


@pytest.mark.skipif(not _kallsyms_past_the_bound(), reason="needs a /proc/kallsyms past 4 MiB")
def test_an_index_json_whose_size_lies_is_cut_at_the_bound(tmp_path: Path) -> None:
    (tmp_path / "index.json").symlink_to(KALLSYMS)
    with pytest.raises(RegistryError, match=f"exceeds the {MAX_MANIFEST_BYTES}-byte bound"):
        asyncio.run(LayoutStore(tmp_path).get_manifest("", "latest"))


def test_a_blob_whose_size_lies_is_cut_at_the_bound(tmp_path: Path) -> None:
    digest = "sha256:" + "a" * 64
    blobs = tmp_path / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (blobs / ("a" * 64)).symlink_to("/proc/self/status")  # size 0, ~1 KB to read
    with pytest.raises(RegistryError, match="exceeds the 64-byte bound"):
        asyncio.run(LayoutStore(tmp_path).get_blob("", digest, max_bytes=64))


def test_a_fifo_in_place_of_a_file_is_refused_not_waited_on(tmp_path: Path) -> None:
    """What `is_file()` saw may be swapped for a FIFO before the open: refused at once."""
    fifo = tmp_path / "index.json"
    os.mkfifo(fifo)
    outcome: list[BaseException | bytes] = []

    def read() -> None:
        try:
            outcome.append(_read_bounded(fifo, 100))
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # the old code: blocked in open() until a writer came
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(5)
        pytest.fail("reading a FIFO blocked")
    assert isinstance(outcome[0], RegistryError) and "not a regular file" in str(outcome[0])


def test_a_layout_whose_blobs_are_links_to_real_files_reads(tmp_path: Path) -> None:
    """The honest twin: blobs shared by symbolic links (a deduplicated store) are regular
    files behind the link, read and hashed as before, at any size within the bound."""
    source = tmp_path / "source"
    image = asyncio.run(put_image(LayoutStore(source), "", "t", version="1", os_name="u"))
    linked = tmp_path / "linked"
    (linked / "blobs" / "sha256").mkdir(parents=True)
    for blob in (source / "blobs" / "sha256").iterdir():
        (linked / "blobs" / "sha256" / blob.name).symlink_to(blob)
    (linked / "index.json").symlink_to(source / "index.json")
    resolved = asyncio.run(resolve(LayoutStore(linked), Reference(Layout(str(linked)), "", "t")))
    assert resolved.digest == image.digest


def test_a_file_of_exactly_the_bound_reads(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"x" * 4096)
    assert _read_bounded(path, 4096) == b"x" * 4096
    with pytest.raises(RegistryError, match="exceeds the 4095-byte bound"):
        _read_bounded(path, 4095)
