"""SQL text for the telemetry store: the schema and the fast ingest statement.

Kept apart from the Python that drives it so the validity rules in SQL can be read side by side
with `sessions.check_record`, which they must match (the CASE arms follow `sessions.REASONS`; a
stored reason is that tuple's index plus one).

Why the layout is what it is (each choice measured on 5 million records):
- One row per record with only numbers in it, plus one `extra` text column that is NULL except on
  a file's first record (the session's own fields) and on records whose backend or device differ
  from their session's. Text columns cost DuckDB far more to write than numbers, even when NULL.
- The reader's types come from a one-record *schema file* read first with DuckDB's own detection
  (`maximum_sample_files=1`), rather than from a `columns=` declaration: on DuckDB 2.0 the detected
  reader parses the same bytes about 40 % faster than the declared one.
- Timestamps are read as text and cast in SQL only when their text has the shape of an ISO 8601
  timestamp (`STAMP_SHAPE`); any other text is left to the reference reader. DuckDB's own parser
  (the JSON reader's typing, the TIMESTAMPTZ cast, strptime alike) also reads `epoch`,
  `infinity`, unpadded fields (`2025-1-1T1:2:3Z`) and offsets past 23 hours, which the reference
  reader refuses, so typing timestamps in the JSON reader (faster: session 9's 'typed' reader)
  let such records through as valid on the fast path only.
"""

from __future__ import annotations

import json
import re

from clamp.telemetry.sessions import REASONS

#: 10: NaN/Infinity, lone surrogates, UTF-16 and a second value without records are corrupt,
#: a NUL ends the document; 9: year 0000 to the reference reader; 8: empty sessions keep labels
SCHEMA_VERSION = 10

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS files (
    file_id INTEGER, path VARCHAR, size BIGINT, mtime_ns BIGINT,
    status VARCHAR, reason VARCHAR);
CREATE TABLE IF NOT EXISTS sessions (
    file_id INTEGER, stability_score DOUBLE, backend VARCHAR, device VARCHAR,
    image VARCHAR, image_digest VARCHAR);
CREATE TABLE IF NOT EXISTS records (
    file_id INTEGER, idx INTEGER, acquired_at TIMESTAMPTZ, duration_ms DOUBLE, stability DOUBLE,
    reason UTINYINT, extra VARCHAR);
"""

#: Stored in `reason` for a record whose timestamp text DuckDB could not parse: the file is then
#: read by the reference reader, whose parser is the one that decides. Never left in the store.
SUSPECT = 255

_REASON_LIST = "[" + ", ".join("'" + r.replace("'", "''") + "'" for r in REASONS) + "]"

#: Records as the reference reader sees them: effective backend and device, reason as text.
RECORD_ROWS = f"""
SELECT r.file_id, r.idx, r.acquired_at, r.duration_ms, r.stability,
       coalesce(r.extra->>'rb', s.backend) AS backend,
       coalesce(r.extra->>'rd', s.device) AS device,
       {_REASON_LIST}[r.reason] AS reason
FROM records AS r LEFT JOIN sessions AS s USING (file_id)
"""

# Every key the rules read, read as text: numbers are cast in SQL (`_number`), because DuckDB's
# reader, given DOUBLE, also reads `true` as 1.0 and `false` as 0.0 (nlohmann's is_number() is
# false for them: the origin did not count such a record, nor does the reference reader). Keys
# left out (`context`, `thread_id`, anything a producer adds) are skipped by this reader at no
# cost, unlike the declared one. Timestamps are text too (the schema file's "t"), cast in SQL.
_SCHEMA_RECORD = {"seed": "n", "acquired_at": "t", "released_at": "t", "duration_ms": "n",
                  "stability_score": "n", "backend": "b", "deviceName": "d", "device_name": "d"}
_SCHEMA_TOP = {"stability_score": "n", "backend": "b", "deviceName": "d", "device_name": "d",
               "image": "i", "image_digest": "g"}
SCHEMA_DOCUMENTS = {"detected": json.dumps({**_SCHEMA_TOP, "records": [_SCHEMA_RECORD]})}

#: The timestamp texts the fast path casts itself: ISO 8601 extended dates with an optional time
#: (hours, minutes, seconds, a fraction after a dot) and an optional `Z` or offset under 24
#: hours, nothing around them. Within this shape DuckDB's cast and `sessions.parse_timestamp`
#: give the same instant or both refuse (tests/telemetry/test_store_stamps.py); outside it they
#: do not (`epoch`, `2025-1-1`, `+25:00`, `,5` fractions), so such text, and zone names, go to
#: the reference reader. Year 0000 is outside it too: DuckDB reads it (1 BC), and an offset
#: west of UTC moves its last hours into year 1, an instant the reference reader refuses.
STAMP_SHAPE = (r"(?:[1-9]\d{3}|0[1-9]\d{2}|00[1-9]\d|000[1-9])"
               r"-\d{2}-\d{2}(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:[.]\d+)?)?)?)?"
               r"(?:Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?")

# Every key the original format names is declared, because DuckDB's JSON reader is markedly
# slower when it meets keys it was not told about. The declared reader is the fallback for files
# the detected one refuses (it is more lenient with keys the schema file does not have).
_RECORD_TYPE = (
    "STRUCT(context VARCHAR, seed VARCHAR, thread_id VARCHAR, acquired_at VARCHAR, "
    "released_at VARCHAR, duration_ms VARCHAR, stability_score VARCHAR, backend VARCHAR, "
    "deviceName VARCHAR, device_name VARCHAR)[]"
)
_COLUMNS = (
    "{'stability_score': 'VARCHAR', 'backend': 'VARCHAR', 'deviceName': 'VARCHAR', "
    "'device_name': 'VARCHAR', 'image': 'VARCHAR', 'image_digest': 'VARCHAR', "
    f"'records': '{_RECORD_TYPE}'}}"
)

#: (reader, format) pairs the store tries, fastest first. 'newline_delimited' reads one-line
#: files (what most producers write) about a third faster than 'unstructured', which also reads
#: pretty-printed ones. 'detected' reads with a schema file (`SCHEMA_DOCUMENTS`).
READERS = (("detected", "newline_delimited"), ("detected", "unstructured"),
           ("declared", "newline_delimited"), ("declared", "unstructured"))


#: DuckDB's default largest JSON value. Raising it for every batch makes the reader's buffers that
#: large and the common case slower (measured: 1.6 s at 16 MiB, 2.0 s at 256 MiB, 4.1 s at
#: 1 GiB), so files past it are read in batches of their own with a limit that fits them.
DEFAULT_MAX_OBJECT = 16 * 1024 * 1024


def read_json_call(reader: str, fmt: str, max_object: int = DEFAULT_MAX_OBJECT) -> str:
    """The `read_json(...)` call for a reader; $1 is the list of paths (its schema file first
    when the reader has one)."""
    options = f"format='{fmt}', filename=true, maximum_object_size={int(max_object)}"
    if reader in SCHEMA_DOCUMENTS:
        return f"read_json($1, {options}, maximum_sample_files=1)"
    return f"read_json($1, columns={_COLUMNS}, {options})"


# A record's own backend/device (empty counts as absent), and the `extra` text of a row: the
# session's fields on its first record, the record's backend/device where they differ from the
# session's. Only rows the fast test above cannot settle evaluate it.
_RB = "nullif(r.backend, '')"
_RD = "coalesce(nullif(r.deviceName, ''), nullif(r.device_name, ''))"
_EXTRA = f"""CASE WHEN idx = 1 OR ({_RB} IS NOT NULL AND {_RB} IS DISTINCT FROM sb)
                 OR ({_RD} IS NOT NULL AND {_RD} IS DISTINCT FROM sd)
            THEN json_object('ss', CASE WHEN idx = 1 THEN ss END,
                             'sb', CASE WHEN idx = 1 THEN sb END,
                             'sd', CASE WHEN idx = 1 THEN sd END,
                             'si', CASE WHEN idx = 1 THEN si END,
                             'sg', CASE WHEN idx = 1 THEN sg END,
                             'rb', CASE WHEN {_RB} IS DISTINCT FROM sb THEN {_RB} END,
                             'rd', CASE WHEN {_RD} IS DISTINCT FROM sd THEN {_RD} END)::VARCHAR
            END"""

# Timestamps are valid only within Python's datetime range once in UTC (what the reference
# reader can represent): DuckDB reads `10000-01-01` or `9999-12-31T23:00-05:00` happily, and
# hands such values back as text. `a >= min AND rl <= max` bounds both, since `rl >= a`.
# $1: paths to read; $2/$3: the batch's paths and file ids (the schema file is not among them,
# so the join drops its row). Rows the reference reader must settle are SUSPECT: a JSON value
# with no records (the two unnests are zipped, padded with NULL, so such a value still gives one
# row, r NULL, and a second value `{}` after the session is seen, as a JSON `null` record is;
# a CASE giving `[NULL]` instead copied every file's records), and a non-finite number, which
# DuckDB's reader also takes from the `NaN`/`Infinity` literals that make a file invalid JSON
# (the text alone cannot tell them from the numeric string "nan").
_FAST_INSERT = """
INSERT INTO records
WITH ids AS (SELECT unnest($2) AS path, unnest($3) AS file_id),
raw AS (
    SELECT ids.file_id, __NUM_SS__ AS ss, nullif(j.backend, '') AS sb,
           coalesce(nullif(j.deviceName, ''), nullif(j.device_name, '')) AS sd,
           j.image AS si, j.image_digest AS sg, j.records
    FROM __READ__ AS j JOIN ids ON ids.path = j.filename),
u AS (
    SELECT file_id, ss, sb, sd, si, sg, unnest(records) AS r,
           unnest(range(1, greatest(len(records), 1) + 1)) AS idx
    FROM raw),
c AS (
    SELECT *, __NUM_S__ AS s, __NUM_D__ AS d, __NUM_SEED__ AS seed,
           __A__ AS a, __RL__ AS rl
    FROM u)
SELECT file_id, idx, a, CASE WHEN d >= 0 AND d < 'inf'::DOUBLE THEN d END, s,
       CASE WHEN s BETWEEN 0 AND 1
                 AND (r.seed IS NULL OR (seed <> 0 AND abs(seed) < 'inf'::DOUBLE
                                         AND seed = floor(seed)))
                 __PARSED__
                 AND (a IS NULL OR (a >= __MIN_TS__ AND a <= __MAX_TS__))
                 AND (rl IS NULL OR (rl >= __MIN_TS__ AND rl <= __MAX_TS__))
                 AND (a IS NULL OR rl IS NULL OR rl >= a)
                 AND (d IS NULL OR isfinite(d)) AND (ss IS NULL OR isfinite(ss)) THEN NULL
            WHEN r IS NULL OR NOT isfinite(s) OR NOT isfinite(d) OR NOT isfinite(seed)
                 OR NOT isfinite(ss) THEN __SUSPECT__
            WHEN s IS NULL OR isnan(s) THEN 2
            WHEN s < 0 OR s > 1 THEN 3
            WHEN r.seed IS NOT NULL AND (seed IS NULL OR NOT isfinite(seed)
                                         OR seed <> floor(seed)) THEN 6
            WHEN seed = 0 THEN 7
            __UNPARSED__
            WHEN a < __MIN_TS__ OR a > __MAX_TS__ OR rl < __MIN_TS__ OR rl > __MAX_TS__ THEN 8
            WHEN rl < a THEN 9 END,
       CASE WHEN idx <> 1 AND r.backend = sb AND r.deviceName = sd THEN NULL
            ELSE __EXTRA__ END
FROM c
""".replace("__EXTRA__", _EXTRA).replace("__SUSPECT__", str(SUSPECT)).replace(
    "__MIN_TS__", "TIMESTAMPTZ '0001-01-01 00:00:00+00'").replace(
    "__MAX_TS__", "TIMESTAMPTZ '9999-12-31 23:59:59.999999+00'")


def _number(column: str) -> str:
    """A number field's text as DOUBLE, read as `sessions.to_float` reads it: DuckDB's cast
    accepts the same texts (a property test checks it) except `1_000`, which it reads as 1000
    (the origin's stod: 1); NULL for anything else (`true`, objects, junk: not numeric)."""
    return f"CASE WHEN NOT contains({column}, '_') THEN TRY_CAST({column} AS DOUBLE) END"


for _name, _column in (("__NUM_SS__", "j.stability_score"), ("__NUM_S__", "r.stability_score"),
                       ("__NUM_D__", "r.duration_ms"), ("__NUM_SEED__", "r.seed")):
    _FAST_INSERT = _FAST_INSERT.replace(_name, _number(_column))


# Timestamps are cast here when their text has `STAMP_SHAPE`; a text without it, or that the
# cast cannot parse, marks the row SUSPECT.
def _cast(column: str) -> str:
    return (f"CASE WHEN regexp_full_match({column}, '{STAMP_SHAPE}') "
            f"THEN TRY_CAST({column} AS TIMESTAMPTZ) END")


_STAMPS = {
    "__A__": _cast("r.acquired_at"),
    "__RL__": _cast("r.released_at"),
    "__PARSED__": "AND (a IS NOT NULL OR r.acquired_at IS NULL) "
                  "AND (rl IS NOT NULL OR r.released_at IS NULL)",
    "__UNPARSED__": "WHEN (a IS NULL AND r.acquired_at IS NOT NULL) "
                    f"OR (rl IS NULL AND r.released_at IS NOT NULL) THEN {SUSPECT}"}


def fast_insert(reader: str, fmt: str, max_object: int = DEFAULT_MAX_OBJECT) -> str:
    """The ingest statement for one (reader, format) pair."""
    sql = _FAST_INSERT.replace("__READ__", read_json_call(reader, fmt, max_object))
    for name, text in _STAMPS.items():
        sql = sql.replace(name, text)
    return sql


def glob_literal(path: str) -> str:
    """`path` as a DuckDB file pattern matching only itself: DuckDB expands `*`, `?` and `[...]`
    in every path it is given, so `a[1].json` would read `a1.json`. Each is escaped as a
    one-character class."""
    return _GLOB_CHARS.sub(r"[\1]", path)


_GLOB_CHARS = re.compile(r"([*?\[])")


# Over the rows the fast insert just wrote ($1: the batch's file ids), only first records and
# records flagged for the reference reader: per file, how many first records it has (exactly one
# unless the file held several JSON values, or none), whether any timestamp needs the reference
# reader, and its session fields.
BATCH_SCAN = f"""
CREATE OR REPLACE TEMP TABLE batch_files AS
SELECT file_id, count(*) FILTER (WHERE idx = 1) AS firsts,
       count(*) FILTER (WHERE reason = {SUSPECT}) AS suspect,
       any_value(extra) FILTER (WHERE idx = 1) AS head
FROM records WHERE (idx = 1 OR reason = {SUSPECT}) AND file_id IN (SELECT unnest($1))
GROUP BY file_id
"""
BATCH_GOOD = "SELECT file_id FROM batch_files WHERE firsts = 1 AND suspect = 0"
BATCH_KEEP = """
INSERT INTO sessions
SELECT file_id, (head->>'ss')::DOUBLE, head->>'sb', head->>'sd', head->>'si', head->>'sg'
FROM batch_files WHERE firsts = 1 AND suspect = 0;
DROP TABLE batch_files;
"""
