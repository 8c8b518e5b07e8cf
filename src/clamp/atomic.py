"""Atomic file output: a reader sees the old file or the new one, never half of either.

Write to a temp file in the same directory (same filesystem, so `os.replace` is atomic), fsync,
then rename. A crash or SIGKILL at any point leaves the previous file intact and at worst a stray
`.tmp` file that the next write ignores.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from clamp.errors import BadInputError, ConflictError


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *,
                 expect_sha256: str | None = None, mode: int | None = None) -> None:
    """Replace `path` with `data` atomically.

    `mode` sets the new file's permissions before any data is written (private keys: 0o600);
    otherwise an existing file keeps its mode and a new one gets 0o644.
    With `expect_sha256`, the current file's hash is checked immediately before the rename and a
    mismatch (someone else changed it since it was read) aborts with `ConflictError`, leaving both
    their file and ours untouched.
    """
    target = check_writable(path)
    # Text holding lone surrogates (bytes an OS string could not decode, carried through) is
    # written with them escaped: an output is never lost to a UnicodeEncodeError.
    payload = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise BadInputError(f"cannot write: {exc.strerror}", where=str(target)) from exc
    try:
        if mode is not None:
            os.chmod(tmp_name, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is None:
            keep = target.stat().st_mode & 0o777 if target.exists() else 0o644
            os.chmod(tmp_name, keep)
        if expect_sha256 is not None:
            current = sha256_file(target) if target.exists() else None
            if current != expect_sha256:
                raise ConflictError("file changed since it was read; not overwritten",
                                    where=str(target))
        os.replace(tmp_name, target)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise BadInputError(f"cannot write: {exc.strerror or exc}", where=str(target)) from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Where `write_atomic(path)` would write, or BadInputError (checked before any work, so a
    command refuses a bad output path before it writes anything else)."""
    target = Path(path)
    try:
        if target.is_symlink():  # write where the link points, and keep the link
            target = Path(os.path.realpath(target))
        os.lstat(target)
    except FileNotFoundError:
        pass
    except OSError as exc:  # a name past the OS's limit, a file where a folder should be
        raise BadInputError(f"cannot write: {exc.strerror}", where=str(path)) from None
    if str(path) == "" or (os.path.lexists(target) and not target.is_file()):
        # A directory, a device (/dev/stdout, /dev/full), a socket: renaming over it would
        # destroy it or fail late; only regular files are replaced.
        raise BadInputError("cannot write: not a regular file", where=str(path))
    return target


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, for change guards and document headers."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
