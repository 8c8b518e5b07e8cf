#!/usr/bin/env python3
"""The seed's resolver name, kept for its users: `ci/resolve_rocm.py ARGS` is `clamp resolve ARGS`.

Without --matrix it reads ci/rocm_matrix.yml beside this script.
"""

import sys
from pathlib import Path

from clamp.cli.main import run

args = sys.argv[1:]
if not {"--matrix", "-m", "--help"} & set(args):
    args = ["--matrix", str(Path(__file__).with_name("rocm_matrix.yml")), *args]
run(["resolve", *args], prog_name="resolve_rocm.py")
