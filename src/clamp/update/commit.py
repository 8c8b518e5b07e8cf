"""Writing the matrix and its review evidence (PR body, provenance) as one unit.

Why an order and not two independent renames: a kill between "matrix replaced" and "PR body
written" left a changed matrix with no record of why it changed, and the update workflow would
commit it without its evidence. The protocol, with the matrix's guarded rename as the commit
point:

1. Before anything: every output path is checked (`clamp.atomic.check_outputs`: a directory,
   a device, a link, the matrix or another input, a name past the OS's limit are refused) —
   nothing is written on bad input.
2. The evidence is written first, each file atomically, to its final path. The PR body names the
   matrix's SHA-256 before and after the change, so evidence that outlived a failed run is
   recognisable: it describes a change the matrix does not (yet) have.
3. The matrix is replaced last (guarded: unchanged since it was read, else exit 75).
4. If step 3 fails (conflict, write error, interrupt), the evidence files get back their earlier
   content (or are removed if they were new), so a refused run leaves nothing behind.

A kill between 2 and 3 therefore leaves evidence without the change (harmless: the next run
writes both again, and the SHA-256 line shows it), never the change without its evidence. A
journal would give the same guarantee with a recovery step every reader must know about; the
order needs none.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from clamp.atomic import write_atomic
from clamp.errors import BadInputError


def write_together(evidence: Sequence[tuple[Path, str]],
                   commit: Callable[[], None] | None) -> None:
    """Write `evidence` files, then run `commit` (the matrix write); undo the evidence if the
    commit fails."""
    before = [(path, _current(path)) for path, _ in evidence]
    try:
        for path, text in evidence:
            write_atomic(path, text)
        if commit is not None:
            commit()
    except BaseException:
        for path, old in before:
            with contextlib.suppress(OSError, BadInputError):
                if old is None:
                    os.unlink(path)
                else:
                    write_atomic(path, old)
        raise


def _current(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BadInputError(f"cannot read: {exc.strerror}", where=str(path)) from None
