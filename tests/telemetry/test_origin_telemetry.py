"""The origin's telemetry data gives the origin's summary numbers (issue 14).

The oracle is the origin's own TemporalAggregator (../shared/origin/src/temporal_aggregator.cpp),
compiled here with g++ and nlohmann/json (the JSON library its build used) and run on the same
directory as `clamp telemetry accumulate`. Its header is not among the shared files, so a
declaration of the Summary it fills is written below; GCC before 14 lacks std::chrono::parse,
which only its unused timestamp field needs, so a stand-in that always fails is supplied.
Skipped without ../shared/origin, g++ or nlohmann/json (Debian: nlohmann-json3-dev).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from clamp.telemetry.aggregator import TemporalAggregator
from clamp.telemetry.sessions import check_record

ORIGIN_SRC = Path(__file__).resolve().parents[2].parent / "shared" / "origin" / "src"
D = "sha256:" + "ab" * 32

HEADER = """#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>
namespace clamp {
class TemporalAggregator {
public:
    struct Summary {
        double meanStability{0.0};
        double variance{0.0};
        double driftPercentile{0.0};
        std::size_t sessionCount{0};
        double stabilityVariance{0.0};
        double driftIndex{0.0};
        std::string backend;
        std::string deviceName;
        std::string trustStatus{"unknown"};
        std::string provenanceIssuer{"unknown"};
        std::string provenanceTimestamp{"unknown"};
        std::string digestAlgorithm{"unknown"};
        std::string policyDecision;
    };
    struct SessionDetail { std::filesystem::path source; Summary metrics; };
    Summary aggregate(const std::filesystem::path& telemetryDir);
    Summary accumulate(const std::filesystem::path& workspaceRoot);
    Summary loadSummary(const std::filesystem::path& summaryPath) const;
    std::vector<SessionDetail> loadSessions(const std::filesystem::path& telemetryDir) const;
    bool writeSummary(const Summary& summary, const std::filesystem::path& outputPath,
                      const std::string& sourceDirectory) const;
};
}
"""
COMPAT = """#include <chrono>
#include <istream>
#if !defined(__cpp_lib_chrono) || __cpp_lib_chrono < 201907L
namespace std::chrono {
template <class TP> struct oracle_parse { TP& tp; };
template <class TP> oracle_parse<TP> parse(const char*, TP& tp) { return {tp}; }
template <class TP> std::istream& operator>>(std::istream& is, oracle_parse<TP>) {
    is.setstate(std::ios::failbit);
    return is;
}
}
#endif
"""
MAIN = """#include "clamp/TemporalAggregator.h"
int main(int, char** argv) { clamp::TemporalAggregator().accumulate(argv[1]); return 0; }
"""


@pytest.fixture(scope="module")
def origin_aggregator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = ORIGIN_SRC / "temporal_aggregator.cpp"
    if not source.is_file():
        pytest.skip("../shared/origin (the origin project's files) is not beside the repository")
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ is needed to build the origin's aggregator")
    if not Path("/usr/include/nlohmann/json.hpp").is_file():
        pytest.skip("nlohmann/json (Debian nlohmann-json3-dev) is needed by the origin's build")
    work = tmp_path_factory.mktemp("origin-aggregator")
    (work / "clamp").mkdir()
    (work / "clamp" / "TemporalAggregator.h").write_text(HEADER)
    (work / "compat.h").write_text(COMPAT)
    (work / "main.cpp").write_text(MAIN)
    binary = work / "aggregate"
    subprocess.run([compiler, "-std=c++20", "-O1", f"-I{work}", "-include", str(work / "compat.h"),
                    str(work / "main.cpp"), str(source), "-o", str(binary)], check=True,
                   capture_output=True, timeout=300)
    return binary


def origin_summary(binary: Path, root: Path) -> dict[str, Any]:
    subprocess.run([str(binary), str(root)], check=True, timeout=60)
    summary: dict[str, Any] = json.loads((root / "build" / "telemetry_summary.json").read_text())
    return summary


def write_root(root: Path, files: dict[str, Any], provenance: Any = None) -> Path:
    telemetry = root / "build" / "telemetry"
    telemetry.mkdir(parents=True)
    for name, doc in files.items():
        (telemetry / name).write_text(json.dumps(doc, indent=2))
    if provenance is not None:
        (root / "build" / "rocm_provenance.json").write_text(json.dumps(provenance, indent=2))
    return root


def dataset(seed: int) -> dict[str, Any]:
    """Session files as the origin's producers wrote them, with its optional fields left out
    at random (no corruption: the origin counted that, clamp does not)."""
    rng = random.Random(seed)
    files: dict[str, Any] = {}
    backends = rng.choice([["HIP"], ["HIP", "CPU"], [None]])
    for f in range(rng.randint(1, 5)):
        records = []
        for i in range(rng.randint(0, 30)):
            rec: dict[str, Any] = {}
            score = round(rng.random(), 4)
            rec["stability_score"] = str(score) if rng.random() < 0.3 else score
            if rng.random() < 0.8:
                duration = round(rng.uniform(0, 100), 3)
                rec["duration_ms"] = str(duration) if rng.random() < 0.2 else duration
            if rng.random() < 0.5:
                rec["seed"] = rng.randint(1, 2**62)
            if rng.random() < 0.5:
                rec["context"], rec["thread_id"] = "anchor", str(i)
            if rng.random() < 0.5:
                rec["acquired_at"] = f"2025-01-0{1 + f}T00:00:{i:02d}Z"
                rec["released_at"] = None if rng.random() < 0.2 else \
                    f"2025-01-0{1 + f}T00:01:{i:02d}Z"
            if rng.random() < 0.1:
                rec["stability_score"] = "n/a"  # not counted by either
            records.append(rec)
        doc: dict[str, Any] = {"records": records}
        backend = rng.choice(backends)
        if backend:
            if rng.random() < 0.5:
                doc["backend"] = backend
            elif records:
                records[0]["backend"] = backend
        if rng.random() < 0.5:
            doc["deviceName" if rng.random() < 0.5 else "device_name"] = \
                rng.choice(["MI300X", "host"])
        files[f"clamp_run_{f}.json"] = doc
    return files


ORIGIN_PROVENANCE = {
    "image": f"ghcr.io/rocm/dev:6.4.4-ubuntu-22.04@{D}", "policyMode": "strict",
    "requireSignature": True, "attestMode": "enforce",
    "provenance": {"status": "verified", "subject": "ghcr.io/rocm/dev",
                   "issuer": "https://token.actions.githubusercontent.com", "logIndex": 7,
                   "timestamp": "2025-01-01T00:00:00Z", "digestAlgorithm": "sha256",
                   "policyDecision": "mode=strict|require_sig=True|attest=enforce|status=0",
                   "trustStatus": "valid"}}
NUMBERS = ("sessionCount", "session_count", "meanStability", "mean_stability", "variance",
           "stability_variance", "driftPercentile", "drift_index")
LABELS = ("backend", "deviceName", "device_name")
PROVENANCE = ("trustStatus", "provenanceIssuer", "provenanceTimestamp", "digestAlgorithm",
              "policyDecision")


@pytest.mark.parametrize("seed", range(8))
def test_summary_numbers_are_the_origin_aggregators(origin_aggregator: Path, tmp_path: Path,
                                                    seed: int) -> None:
    files = dataset(seed)
    provenance = ORIGIN_PROVENANCE if seed % 2 else None
    theirs = origin_summary(origin_aggregator, write_root(tmp_path / "o", files, provenance))
    ours = TemporalAggregator().accumulate(write_root(tmp_path / "c", files, provenance))
    doc = json.loads(ours.to_json())
    for key in NUMBERS:  # the origin printed six decimals
        assert doc[key] == pytest.approx(theirs[key], abs=5e-7), key
    for key in LABELS:
        assert doc[key] == theirs[key], key
    if provenance is not None:
        for key in PROVENANCE:
            assert doc[key] == theirs[key], key
    assert doc["policyDecision"] and all(isinstance(doc[k], str) for k in PROVENANCE)


def test_corruption_the_origin_counted_stays_invalid() -> None:
    """The origin's aggregator counted these; its spec calls them corruption (issue 14)."""
    base = {"stability_score": 0.5}
    assert check_record(base)[0] is None
    assert check_record({**base, "seed": 0})[0] == "seed is 0"
    assert check_record({"stability_score": 1.5})[0] == "stability_score outside [0, 1]"
    assert check_record({**base, "acquired_at": "2025-01-02T00:00:00Z",
                         "released_at": "2025-01-01T00:00:00Z"})[0] == \
        "released_at before acquired_at"


@pytest.mark.parametrize("empty", [{"backend": "CPU", "records": []},
                                   {"deviceName": "host", "records": []},
                                   {"backend": "HIP", "deviceName": "MI300X", "records": []}])
def test_a_session_without_records_still_names_its_backend(origin_aggregator: Path,
                                                           tmp_path: Path,
                                                           empty: dict[str, Any]) -> None:
    """The origin counted an empty session's labels toward the directory's ('mixed' beside
    another backend); clamp kept no row for it, so its label was lost."""
    files = {"a.json": empty, "b.json": {"backend": "HIP", "deviceName": "MI300X",
                                         "records": [{"stability_score": 0.5}]}}
    theirs = origin_summary(origin_aggregator, write_root(tmp_path / "o", files))
    doc = json.loads(TemporalAggregator().accumulate(write_root(tmp_path / "c", files)).to_json())
    assert (doc["backend"], doc["deviceName"]) == (theirs["backend"], theirs["deviceName"])
    assert doc["sessionCount"] == theirs["sessionCount"] == 1
