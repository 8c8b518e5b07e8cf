"""Command-line front end: argument handling and output only, no logic of its own.

Two start-up trims live here, so they run before anything the commands import:
- clamp uses no pydantic plugins; skipping their entry-point scan saves start-up time on every
  command (a user who wants plugins can still set the variable themselves);
- httpx imports its own command-line client (click, pygments, rich.syntax) whenever those are
  installed, ~20-35 ms per clamp command; a None entry in `sys.modules` makes that optional
  import fail the way httpx expects when they are absent. Only httpx's own console script
  needs it, and library users of clamp (who do not import clamp.cli) are not affected.
"""

import os
import sys

os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
