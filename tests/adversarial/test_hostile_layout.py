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
from clamp.errors import BadInputError, NotFoundError, RegistryError
from clamp.location import Layout
from clamp.oci.layout import LayoutStore, _read_bounded
from clamp.oci.manifest import MAX_MANIFEST_BYTES
from clamp.oci.reference import Reference
from clamp.oci.resolve import resolve
from clamp.signed.sign import sign_and_push
from tests.adversarial.conftest import Signer, run_clamp

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


# -- session 13: what a layout file is, and where signing writes ---------------------------------
def test_an_index_json_that_is_a_fifo_is_named_for_what_it_is(tmp_path: Path) -> None:
    """Session 13: a FIFO (or a directory) where index.json should be was reported as
    "index.json missing", sending whoever read the log looking for a file in plain sight."""
    os.mkfifo(tmp_path / "index.json")
    with pytest.raises(RegistryError, match=r"index\.json is a FIFO, not a regular file") as err:
        asyncio.run(LayoutStore(tmp_path).get_manifest("", "latest"))
    assert not isinstance(err.value, NotFoundError)
    (tmp_path / "r" / "index.json").mkdir(parents=True)
    with pytest.raises(RegistryError, match=r"index\.json is a directory"):
        asyncio.run(LayoutStore(tmp_path).get_manifest("r", "latest"))


def test_a_layout_without_index_json_is_still_missing(tmp_path: Path) -> None:
    """The honest twin: no file, or a link that leads nowhere, is a layout that is not there."""
    with pytest.raises(NotFoundError, match=r"index\.json missing"):
        asyncio.run(LayoutStore(tmp_path).get_manifest("", "latest"))
    (tmp_path / "index.json").symlink_to(tmp_path / "nowhere")
    with pytest.raises(NotFoundError, match=r"index\.json missing"):
        asyncio.run(LayoutStore(tmp_path).get_manifest("", "latest"))


def test_a_blob_that_is_a_fifo_is_named_for_what_it_is(tmp_path: Path) -> None:
    blobs = tmp_path / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    os.mkfifo(blobs / ("a" * 64))
    with pytest.raises(RegistryError, match="blob is a FIFO"):
        asyncio.run(LayoutStore(tmp_path).get_blob("", "sha256:" + "a" * 64))


def _unsigned_layout(root: Path) -> Reference:
    asyncio.run(put_image(LayoutStore(root), "", "t", version="1", os_name="u"))
    return Reference(Layout(str(root)), "", "t")


@pytest.mark.parametrize("linked", ["blobs/sha256", "blobs"])
def test_signing_never_writes_through_a_linked_folder_of_the_layout(
        tmp_path: Path, signer: Signer, linked: str) -> None:
    """Session 13: a layout whose `blobs/sha256` (or `blobs`) is a symbolic link, as a pull
    request's checkout can hold, had `clamp sign` write its signature blobs wherever the link
    pointed. Refused before anything is written, there or in the layout."""
    layout = tmp_path / "layout"
    ref = _unsigned_layout(layout)
    elsewhere = tmp_path / "elsewhere"
    (layout / linked).rename(elsewhere)
    (layout / linked).symlink_to(elsewhere, target_is_directory=True)
    before = sorted(p.name for p in elsewhere.rglob("*"))
    index = (layout / "index.json").read_bytes()
    with pytest.raises(BadInputError, match="a folder in it is a symbolic link"):
        asyncio.run(sign_and_push(LayoutStore(layout), ref, signer.key))
    assert sorted(p.name for p in elsewhere.rglob("*")) == before
    assert (layout / "index.json").read_bytes() == index


def test_signing_a_layout_whose_blob_files_are_links_verifies(
        tmp_path: Path, signer: Signer) -> None:
    """The honest twin: blob *files* shared by links (a deduplicated store) in real folders
    are read through the links, and the signature is written into the layout and verifies."""
    source = tmp_path / "source"
    _unsigned_layout(source)
    layout = tmp_path / "layout"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    for blob in (source / "blobs" / "sha256").iterdir():
        (layout / "blobs" / "sha256" / blob.name).symlink_to(blob)
    (layout / "index.json").write_bytes((source / "index.json").read_bytes())
    ref = Reference(Layout(str(layout)), "", "t")
    asyncio.run(sign_and_push(LayoutStore(layout), ref, signer.key))
    code, err = run_clamp("verify", "--image", f"oci:{layout}:t", "--key", str(signer.pub),
                          "--insecure-ignore-tlog")
    assert code == 0, err
