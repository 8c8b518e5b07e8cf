"""An OCI image layout directory as an image store, interchangeable with a registry.

`oci:PATH[:TAG]` names a layout (index.json + blobs/<alg>/<hex>; the spelling is read by
clamp.location alone). A store rooted at PATH maps a
repository `a/b` to the layout in PATH/a/b (or PATH itself for the empty repository), so a matrix
can point its `registry` at `oci:DIR` and keep its repository names. Used for offline demos and
tests; writes are atomic like every clamp output.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from clamp.atomic import write_atomic
from clamp.digest import Digest, digest_of, is_digest, parse_digest, verify_bytes
from clamp.errors import BadInputError, DigestMismatchError, NotFoundError, RegistryError
from clamp.location import Layout
from clamp.oci.fallback import completed
from clamp.oci.manifest import (
    MANIFEST_ACCEPT,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    Descriptor,
    Manifest,
    encode_json,
    read_document,
)
from clamp.oci.registry import MAX_BLOB_BYTES

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_FILE = {"imageLayoutVersion": "1.0.0"}


class LayoutStore:
    """Reads and writes OCI image layouts under one root directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LayoutStore({str(self.root)!r})"

    def _dir(self, repo: str) -> Path:
        if ".." in repo.split("/"):
            raise RegistryError("repository may not contain '..'", where=str(self.root))
        return self.root / repo if repo else self.root

    def _location(self, repo: str) -> Layout:
        """The layout directory of `repo`, spelt as references spell it (for messages)."""
        return Layout(str(self._dir(repo)))

    def _blob_path(self, repo: str, digest: Digest) -> Path:
        return self._dir(repo) / "blobs" / digest.algorithm / digest.hex

    def _read_index(self, repo: str) -> dict[str, Any]:
        path = self._dir(repo) / "index.json"
        if not path.is_file():
            _refuse_special(path, "index.json")
            raise NotFoundError("no OCI layout here (index.json missing)", where=str(path.parent))
        raw = _read_bounded(path, MAX_MANIFEST_BYTES)
        # Read as skopeo and containerd (Go) read it: a tag named twice in two spellings of
        # `manifests` is refused, not resolved to whichever Python happens to see.
        index = read_document(raw, what="index.json", where=str(path))
        if not isinstance(index.get("manifests"), list):
            raise RegistryError("index.json has no manifests list", where=str(path))
        return index

    def _descriptors(self, repo: str) -> list[Descriptor]:
        where = str(self._dir(repo) / "index.json")
        return [Descriptor.from_json(d, where=f"{where} manifests[{i}]")
                for i, d in enumerate(self._read_index(repo)["manifests"])]

    async def get_manifest(self, repo: str, ref: str,
                           accept: tuple[str, ...] = MANIFEST_ACCEPT) -> Manifest:
        del accept
        where = f"{self._location(repo)}:{ref}"
        if is_digest(ref):
            digest = parse_digest(ref)
            media_type = None
            for desc in self._descriptors(repo):
                if desc.digest == digest:
                    media_type = desc.media_type
        else:
            found = [d for d in self._descriptors(repo) if d.annotations.get(REF_NAME) == ref]
            if not found:
                raise NotFoundError(f"tag {ref!r} not found in the layout", where=where)
            if len({d.digest for d in found}) > 1:
                # skopeo (containers/image) takes the first, other readers the last: which
                # image the tag names would depend on the reader.
                raise RegistryError(f"tag {ref!r} names more than one manifest in index.json",
                                    where=where)
            digest, media_type = found[-1].digest, found[-1].media_type
        raw = self._read_blob(repo, digest, MAX_MANIFEST_BYTES, where, verify=False)
        # Hashed once, by Manifest.parse (with the asked digest's algorithm), then compared, as
        # the registry client does; bytes that do not hash to their name are refused either way.
        manifest = Manifest.parse(raw, content_type=media_type, where=where,
                                  algorithm=digest.algorithm)
        if manifest.digest != digest:
            raise DigestMismatchError(f"bytes received hash to {manifest.digest}, not {digest}",
                                      where=where)
        return manifest

    async def head_manifest(self, repo: str, ref: str) -> Descriptor | None:
        try:
            manifest = await self.get_manifest(repo, ref)
        except NotFoundError:
            return None
        return Descriptor(manifest.media_type, manifest.digest, len(manifest.raw))

    async def get_blob(self, repo: str, digest: Digest | str, *,
                       max_bytes: int = MAX_BLOB_BYTES) -> bytes:
        want = parse_digest(digest) if isinstance(digest, str) else digest
        return self._read_blob(repo, want, max_bytes, f"{self._location(repo)}@{want}")

    def _read_blob(self, repo: str, digest: Digest, max_bytes: int, where: str, *,
                   verify: bool = True) -> bytes:
        """The blob's bytes, bounded; hashed against `digest` unless the caller hashes them
        itself (a manifest: Manifest.parse hashes it once)."""
        path = self._blob_path(repo, digest)
        if not path.is_file():
            _refuse_special(path, "blob")
            raise NotFoundError("blob not found in the layout", where=where)
        data = _read_bounded(path, max_bytes)
        if verify:
            verify_bytes(data, digest, what=where)
        return data

    async def list_tags(self, repo: str) -> list[str]:
        try:
            descs = self._descriptors(repo)
        except NotFoundError:
            return []
        return sorted({d.annotations[REF_NAME] for d in descs if REF_NAME in d.annotations})

    async def referrers(self, repo: str, digest: Digest,
                        artifact_type: str | None = None) -> list[Descriptor]:
        try:
            index = await self.get_manifest(repo, digest.referrers_tag)
        except NotFoundError:
            return []
        found = index.manifests if index.is_index else []
        # As the registry's fallback index is read: cosign lists a bundle as an empty artifact.
        found = await completed(found, lambda d: self.get_manifest(repo, d))
        if artifact_type:
            found = [d for d in found if d.artifact_type == artifact_type]
        return found

    def _writable(self, repo: str, path: Path) -> Path:
        """`path` inside the layout of `repo`, refused when a folder between the store's root
        and it (a repository folder, `blobs`, `blobs/sha256`) is a symbolic link. A layout may
        come from anyone (a pull request's checkout): `blobs/sha256 -> ~/.ssh` would have clamp
        sign write its blobs into whatever the link names (session 13: it did). Reading follows
        links (a deduplicated store shares blobs so; every byte read is hashed); writing never
        does, as no output of clamp's is written through a link (clamp.atomic)."""
        relative = path.parent.relative_to(self.root)
        folder = self.root
        for part in relative.parts:
            folder = folder / part
            if folder.is_symlink():
                raise BadInputError("cannot write into the layout: a folder in it is a symbolic "
                                    "link (not followed)", where=str(folder))
        return path

    async def put_blob(self, repo: str, data: bytes) -> Digest:
        digest = digest_of(data)
        path = self._writable(repo, self._blob_path(repo, digest))
        if not path.exists():
            write_atomic(path, data)
        return digest

    async def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> Digest:
        digest = await self.put_blob(repo, raw)
        layout_dir = self._writable(repo, self._dir(repo) / "index.json").parent
        if not (layout_dir / "oci-layout").exists():
            write_atomic(layout_dir / "oci-layout", encode_json(LAYOUT_FILE))
        try:
            index = self._read_index(repo)
        except NotFoundError:
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        entry: dict[str, Any] = {"mediaType": media_type, "digest": str(digest), "size": len(raw)}
        manifests = index["manifests"]
        if is_digest(ref):
            if ref != str(digest):
                raise RegistryError(f"manifest bytes hash to {digest}, not {ref}",
                                    where=str(layout_dir))
            if any(m.get("digest") == str(digest) for m in manifests):
                return digest
        else:
            entry["annotations"] = {REF_NAME: ref}
            manifests[:] = [m for m in manifests
                            if (m.get("annotations") or {}).get(REF_NAME) != ref]
        manifests.append(entry)
        write_atomic(layout_dir / "index.json", json.dumps(index, indent=2) + "\n")
        return digest

    async def delete_tag(self, repo: str, tag: str) -> None:
        index = self._read_index(repo)
        index["manifests"] = [m for m in index["manifests"]
                              if (m.get("annotations") or {}).get(REF_NAME) != tag]
        write_atomic(self._writable(repo, self._dir(repo) / "index.json"),
                     json.dumps(index, indent=2) + "\n")

    async def aclose(self) -> None:
        return None


_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a directory"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _refuse_special(path: Path, what: str) -> None:
    """A layout file that is there but is no regular file (a FIFO, a directory, a device) is
    named for what it is, not reported missing: "index.json missing" sent whoever read it
    looking for a file that was in plain sight (session 13). A name that leads nowhere (no
    file, a dangling link, a link loop) returns: the caller reports it missing."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise RegistryError(f"{what} is {kind}, not a regular file", where=str(path))


def _read_bounded(path: Path, max_bytes: int) -> bytes:
    """At most `max_bytes` of a regular file, whatever its size says. A layout may come from
    anyone (a build artifact, a pull request): its stat size is not its length (a link to a
    /proc file says 0 and reads megabytes, a file can grow between the stat and the read), so
    the read itself stops one byte past the bound. Opened without blocking and checked on the
    open descriptor: a FIFO or device put in place after `is_file()` is refused, not waited on
    or read forever (session 12: the whole file was read, past the bound, into memory)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise RegistryError(f"cannot read ({exc.strerror})", where=str(path)) from None
    with os.fdopen(fd, "rb") as file:
        try:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise RegistryError("not a regular file", where=str(path))
            if info.st_size > max_bytes:
                raise RegistryError(f"file of {info.st_size} bytes exceeds the {max_bytes}-byte "
                                    "bound", where=str(path))
            data = file.read(max_bytes + 1)
        except OSError as exc:
            raise RegistryError(f"cannot read ({exc.strerror})", where=str(path)) from None
    if len(data) > max_bytes:
        raise RegistryError(f"file exceeds the {max_bytes}-byte bound (it holds more than its "
                            "size says)", where=str(path))
    return data
