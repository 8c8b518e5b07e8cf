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

# One scan over the rows FAST_INSERT just wrote ($1: the batch's file ids): per file, how many
# first records it has (exactly one unless the file held several JSON values, or none), its
# session fields, and its statistics (kept in file_stats so summaries need not regroup by file).
BATCH_SCAN = """
CREATE OR REPLACE TEMP TABLE batch_files AS
SELECT file_id, count(*) FILTER (WHERE idx = 1) AS firsts,
       any_value(s_stability) FILTER (WHERE idx = 1) AS ss,
       any_value(s_backend) FILTER (WHERE idx = 1) AS sb,
       any_value(s_device) FILTER (WHERE idx = 1) AS sd,
       any_value(s_image) FILTER (WHERE idx = 1) AS si,
       any_value(s_digest) FILTER (WHERE idx = 1) AS sg,
       count(*) FILTER (WHERE reason IS NULL) AS n,
       avg(stability) FILTER (WHERE reason IS NULL) AS mean,
       var_samp(stability) FILTER (WHERE reason IS NULL) AS var,
       quantile_cont(duration_ms, 0.95) FILTER (WHERE reason IS NULL) AS p95,
       min(acquired_at) FILTER (WHERE reason IS NULL) AS first,
       max(acquired_at) FILTER (WHERE reason IS NULL) AS last
FROM records WHERE file_id IN (SELECT unnest($1)) GROUP BY file_id
"""
BATCH_FIRSTS = "SELECT file_id, firsts FROM batch_files"
BATCH_KEEP = """
INSERT INTO sessions SELECT file_id, ss, sb, sd, si, sg FROM batch_files WHERE firsts = 1;
INSERT INTO file_stats SELECT file_id, n, mean, var, p95, first, last FROM batch_files
    WHERE firsts = 1;
DROP TABLE batch_files;
"""
