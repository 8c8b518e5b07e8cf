"""clamp.update: refresh a matrix's pins, pinning only candidates that verified.

One idea per module: `discover` (which tags are newer releases), `candidates` (resolve and verify
what a tag names), `decision` (pins, reports, exit code), `rewrite` (edit the matrix in its own
layout and write it guarded), `prbody` (the pull request body), `evidence` (rocm_provenance.json
for the candidates), `run` (the whole run), `report` (the result model). docs/update.md.
"""
