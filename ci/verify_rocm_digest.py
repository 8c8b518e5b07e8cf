#!/usr/bin/env python3
"""The seed's verifier name, kept for its users: `ci/verify_rocm_digest.py ARGS` is
`clamp verify ARGS`. Without --matrix/--image it verifies ci/rocm_matrix.yml beside this script.
Exit codes are the original's: 0 verified, 1 warnings, 2 failure, 3 signature failure (strict).
"""

import sys
from pathlib import Path

from clamp.cli.main import run

args = sys.argv[1:]
if not {"--matrix", "-m", "--image", "-i", "--help"} & set(args):
    args = ["--matrix", str(Path(__file__).with_name("rocm_matrix.yml")), *args]
run(["verify", *args], prog_name="verify_rocm_digest.py")
