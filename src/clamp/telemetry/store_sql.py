"""SQL text for the telemetry store: the schema and the fast ingest statement.

Kept apart from the Python that drives it so the validity rules in SQL can be read side by side
with `sessions.check_record`, which they must match (the order of the CASE arms is the order of
`sessions.REASONS`).
"""

from __future__ import annotations

SCHEMA_VERSION = 3

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
    backend VARCHAR, device VARCHAR, reason VARCHAR,
    s_stability DOUBLE, s_backend VARCHAR, s_device VARCHAR, s_image VARCHAR, s_digest VARCHAR);
CREATE TABLE IF NOT EXISTS file_stats (
    file_id INTEGER, n BIGINT, mean DOUBLE, var DOUBLE, p95 DOUBLE,
    first TIMESTAMPTZ, last TIMESTAMPTZ);
"""

# Per-session statistics, computed once when a file is ingested ($1: its file ids) so that a
# summary over millions of records does not regroup them by file on every run.
FILE_STATS = """
INSERT INTO file_stats
SELECT file_id, count(*), avg(stability), var_samp(stability),
       quantile_cont(duration_ms, 0.95), min(acquired_at), max(acquired_at)
FROM records WHERE reason IS NULL AND file_id IN (SELECT unnest($1)) GROUP BY file_id
"""

# Every key the original format names is declared, because DuckDB's JSON reader is markedly
# slower when it meets keys it was not told about. Types are strict: a value DuckDB cannot cast
# (e.g. "abc" for a number, a string for a record) makes the statement fail, and the store then
# reads that file with the Python reference reader instead.
_RECORD_TYPE = (
    "STRUCT(context VARCHAR, seed DOUBLE, thread_id VARCHAR, acquired_at TIMESTAMPTZ, "
    "released_at TIMESTAMPTZ, duration_ms DOUBLE, stability_score DOUBLE, backend VARCHAR, "
    "deviceName VARCHAR, device_name VARCHAR)[]"
)
_COLUMNS = (
    "{'stability_score': 'DOUBLE', 'backend': 'VARCHAR', 'deviceName': 'VARCHAR', "
    "'device_name': 'VARCHAR', 'image': 'VARCHAR', 'image_digest': 'VARCHAR', "
    f"'records': '{_RECORD_TYPE}'}}"
)

# $1: list of paths; $2: list of file ids in the same order. __FORMAT__ is the JSON format DuckDB
# should assume: 'newline_delimited' reads one-line files (what most producers write) about a
# third faster than 'unstructured', which also reads pretty-printed files.
FORMATS = ("newline_delimited", "unstructured")
FAST_INSERT = f"""
INSERT INTO records
WITH ids AS (SELECT unnest($1) AS path, unnest($2) AS file_id),
raw AS (
    SELECT ids.file_id, j.stability_score AS ss, nullif(j.backend, '') AS sb,
           coalesce(nullif(j.deviceName, ''), nullif(j.device_name, '')) AS sd,
           j.image AS si, j.image_digest AS sg,
           j.records
    FROM read_json($1, columns={_COLUMNS}, format='__FORMAT__', filename=true) AS j
    JOIN ids ON ids.path = j.filename),
u AS (
    SELECT file_id, ss, sb, sd, si, sg, unnest(records) AS r,
           generate_subscripts(records, 1) AS idx
    FROM raw),
c AS (
    SELECT *, r.stability_score AS s, r.duration_ms AS d, r.seed AS seed,
           r.acquired_at AS a, r.released_at AS rl
    FROM u)
SELECT file_id, idx, a, d, s,
       coalesce(nullif(r.backend, ''), sb),
       coalesce(nullif(r.deviceName, ''), nullif(r.device_name, ''), sd),
       CASE WHEN s IS NULL OR isnan(s) THEN 'stability_score missing or not numeric'
            WHEN s < 0 OR s > 1 THEN 'stability_score outside [0, 1]'
            WHEN d IS NULL OR NOT isfinite(d) THEN 'duration_ms missing or not numeric'
            WHEN d < 0 THEN 'duration_ms negative'
            WHEN seed IS NULL OR NOT isfinite(seed) OR seed <> floor(seed)
                THEN 'seed missing or not an integer'
            WHEN seed = 0 THEN 'seed is 0'
            WHEN a IS NULL OR rl IS NULL THEN 'timestamp missing or does not parse'
            WHEN rl < a THEN 'released_at before acquired_at' END AS reason,
       CASE WHEN idx = 1 THEN ss END, CASE WHEN idx = 1 THEN sb END,
       CASE WHEN idx = 1 THEN sd END, CASE WHEN idx = 1 THEN si END,
       CASE WHEN idx = 1 THEN sg END
FROM c
"""

# Session rows for files just ingested by FAST_INSERT ($1: their file ids).
SESSIONS_FROM_RECORDS = """
INSERT INTO sessions
SELECT file_id, s_stability, s_backend, s_device, s_image, s_digest
FROM records WHERE idx = 1 AND file_id IN (SELECT unnest($1))
"""

# Files whose FAST_INSERT result needs a second look by the reference reader: no rows (empty
# file, no records list, or an empty list) or more than one JSON value in the file.
SUSPECT_FILES = """
WITH ids AS (SELECT unnest($1) AS file_id),
counts AS (SELECT file_id, count(*) FILTER (WHERE idx = 1) AS firsts
           FROM records WHERE file_id IN (SELECT file_id FROM ids) GROUP BY file_id)
SELECT ids.file_id FROM ids LEFT JOIN counts USING (file_id)
WHERE counts.firsts IS NULL OR counts.firsts <> 1
"""
