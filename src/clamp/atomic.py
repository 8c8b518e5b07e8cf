"""Atomic file output: a reader sees the old file or the new one, never half of either.

Write to a temp file in the same directory (same filesystem, so `os.replace` is atomic), fsync,
then rename. A crash or SIGKILL at any point leaves the previous file intact and at worst a stray
`.tmp` file that the next write ignores.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Sequence
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
    staged = _stage(path, data, mode)
    try:
        if expect_sha256 is not None:
            try:
                current = sha256_file(staged[0]) if staged[0].exists() else None
            except OSError as exc:
                raise BadInputError(f"cannot write: {exc.strerror or exc}",
                                    where=str(staged[0])) from exc
            if current != expect_sha256:
                raise ConflictError("file changed since it was read; not overwritten",
                                    where=str(staged[0]))
        _commit(staged)
    except BaseException:
        _discard(staged)
        raise


def write_atomic_group(files: Sequence[tuple[str | os.PathLike[str], str | bytes]]) -> None:
    """Write related outputs (a provenance file and the SARIF and VSAs made from it) as one unit.

    Every path is checked, then every file is written and synced to its temp name; only when all
    of them are on disk are they renamed into place, so a refused path, a full disk or an
    interrupt while writing leaves every previous file as it was. (The renames themselves are one
    `os.replace` each: nothing portable renames several files at once.)
    """
    for path, _ in files:
        check_writable(path)
    staged: list[tuple[Path, str]] = []
    try:
        for path, data in files:
            staged.append(_stage(path, data, None))
        for one in staged:
            _commit(one)
    except BaseException:
        for one in staged:
            _discard(one)
        raise


def _stage(path: str | os.PathLike[str], data: str | bytes,
           mode: int | None) -> tuple[Path, str]:
    """Write `data` to a synced temp file beside `path`: (the real target, the temp name)."""
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
            os.chmod(tmp_name, _mode_for(target))
    except OSError as exc:
        _discard((target, tmp_name))
        raise BadInputError(f"cannot write: {exc.strerror or exc}", where=str(target)) from exc
    except BaseException:
        _discard((target, tmp_name))
        raise
    return target, tmp_name


def _mode_for(target: Path) -> int:
    """A rewritten file keeps its permissions, less write for others; a new one is 0o644 as
    narrowed by the umask. No output of clamp's is ever world-writable: a matrix or provenance
    file anyone on the machine could edit between two steps is not evidence."""
    try:
        return stat.S_IMODE(os.lstat(target).st_mode) & ~0o7002
    except FileNotFoundError:
        return 0o644 & ~_umask()


def _umask() -> int:
    """The process's umask, read without setting it (os.umask would change it for every
    thread for a moment); 0 where the kernel does not say (then 0o644 as before)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _commit(staged: tuple[Path, str]) -> None:
    target, tmp_name = staged
    try:
        os.replace(tmp_name, target)
    except OSError as exc:
        raise BadInputError(f"cannot write: {exc.strerror or exc}", where=str(target)) from exc


def _discard(staged: tuple[Path, str]) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(staged[1])


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Where `write_atomic(path)` would write, or BadInputError (checked before any work, so a
    command refuses a bad output path before it writes anything else)."""
    target = Path(path)
    try:
        info: os.stat_result | None = os.lstat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:  # a name past the OS's limit, a file where a folder should be
        raise BadInputError(f"cannot write: {exc.strerror}", where=str(path)) from None
    if info is not None and stat.S_ISLNK(info.st_mode):
        # Never written through: a link planted in a checkout (`build/rocm_provenance.json ->
        # ~/.bashrc`, `-> $GITHUB_ENV`) would make clamp replace a file it was never named.
        # Name the link's target to write there (docs: README "Outputs").
        raise BadInputError("cannot write: a symbolic link (not followed; name its target)",
                            where=str(path))
    linked = _linked_folder(target)
    if linked is not None:
        # A folder link planted in a checkout (`build -> ../other-checkout/build`, `-> ~`)
        # would put this output, or replace a file of the same name, where it was never named.
        raise BadInputError(f"cannot write: its folder {linked} is a symbolic link (not "
                            "followed; name the folder it points to)", where=str(path))
    if str(path) == "" or (info is not None and not stat.S_ISREG(info.st_mode)):
        # A directory, a device (/dev/stdout, /dev/full), a socket: renaming over it would
        # destroy it or fail late; only regular files are replaced.
        raise BadInputError("cannot write: not a regular file", where=str(path))
    return target


def _linked_folder(target: Path) -> Path | None:
    """The first folder on the way to `target`, as written, that lies inside the working
    directory (a checkout) and is a symbolic link; None if there is none. Folders outside it
    (`/tmp` on macOS, a runner's own links) are the machine's, not a checkout's, and are
    followed. Components are walked as written, not normalised: `link/../x` goes through the
    link's target, so `link` is checked too."""
    try:
        cwd = os.getcwd()
    except OSError:
        return None
    current = target if target.is_absolute() else Path(cwd) / target
    inside = cwd.rstrip(os.sep) + os.sep
    walked = Path(current.anchor)
    for part in current.parts[1:-1]:
        walked = walked / part
        if not os.path.normpath(walked).startswith(inside):
            continue
        try:
            if stat.S_ISLNK(os.lstat(walked).st_mode):
                return walked
        except OSError:  # not there yet (created on write) or not a folder: said later
            return None
    return None


def check_outputs(outputs: Sequence[tuple[str, str | os.PathLike[str] | None]],
                  inputs: Sequence[tuple[str, str | os.PathLike[str]]] = ()) -> None:
    """Refuse, before any work, outputs that cannot be written, that would overwrite one of the
    command's inputs (the matrix, its policy file, a key, a trusted root), or that name one
    file twice (`-o p.json --sarif p.json` left SARIF where the provenance was said to be).
    Paths are compared as resolved, and by inode where both exist (a hard link is one file).
    `outputs` are (flag, path or None) and `inputs` (what it is, path)."""
    seen: list[tuple[str, str, tuple[int, int] | None]] = [
        (what, _real(path), _inode(path)) for what, path in inputs]
    for flag, path in outputs:
        if path is None:
            continue
        check_writable(path)
        real, inode = _real(path), _inode(path)
        for what, other, other_inode in seen:
            if real == other or (inode is not None and inode == other_inode):
                raise BadInputError(f"{flag} would overwrite {what}", where=str(path))
        seen.append((flag, real, inode))


def _real(path: str | os.PathLike[str]) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):
        return str(Path(path).absolute())


def _inode(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_dev, info.st_ino)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, for change guards and document headers."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
