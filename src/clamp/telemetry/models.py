"""The `telemetry_summary.json` document as pydantic models (the JSON Schema comes from here).

Top-level keys of the original summary are kept with their meaning, and the snake-case aliases
the original also wrote (`source_directory`, `session_count`, `mean_stability`,
`stability_variance`, `drift_index`) are written beside them with the same values, so every
existing reader keeps working. New keys are camelCase like the originals.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

SUMMARY_SCHEMA_VERSION = 1
#: Compared records a side below which an image change gets no verdict, whatever its intervals
#: say: a handful of records can give a zero-width or tail-blind interval (tests/telemetry/
#: test_small_samples.py). Twenty is also the fewest values whose 95th percentile is not just
#: their maximum.
MIN_VERDICT_RECORDS = 20


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Stats(_Model):
    """Statistics over valid records of some set of sessions."""

    sessionCount: int = Field(description="Session files with at least one valid record.")
    recordCount: int = Field(description="Valid records.")
    meanStability: float | None
    variance: float | None = Field(description="Sample variance of record stability scores.")
    driftPercentile: float | None = Field(
        description="95th percentile of record duration_ms (linear interpolation).")


class Group(Stats):
    """One row of a breakdown (backend, device)."""

    key: str | None


class TrustEvidence(_Model):
    """What the provenance file says about one image digest (nulls where it says nothing)."""

    trustStatus: str
    provenanceIssuer: str | None = None
    provenanceIdentity: str | None = None
    provenanceTimestamp: str | None = None
    timestampSource: str | None = None
    logIndex: int | None = None
    digestAlgorithm: str | None = None
    policyDecision: str | None = None
    policyMode: str | None = None


class ImageGroup(Stats):
    """Statistics of the sessions that ran one image digest, with its trust evidence."""

    digest: str | None
    image: str | None
    trusted: bool
    evidence: TrustEvidence


class WindowGroup(Stats):
    """One time window: its statistics and the image digests that ran in it."""

    start: str
    end: str
    dominantDigest: str | None
    digests: list[str | None]
    trustStatus: str


class SessionGroup(Stats):
    """One session file."""

    path: str
    backend: str | None
    device: str | None
    digest: str | None
    trustStatus: str
    trusted: bool
    sessionStability: float | None
    firstAcquiredAt: str | None
    lastAcquiredAt: str | None
    invalidRecordCount: int


class Breakdown(_Model):
    byBackend: list[Group]
    byDevice: list[Group]
    byImage: list[ImageGroup]
    byWindow: list[WindowGroup]
    bySession: list[SessionGroup]


class StratumShift(_Model):
    """One (backend, device) stratum of an image change: its records on each side and shifts."""

    backend: str | None
    device: str | None
    recordsBefore: int
    recordsAfter: int
    meanStabilityShift: float | None
    p95DurationShift: float | None
    weight: float = Field(description="Its weight in the like-with-like shift (0 when it is "
                                      "seen on one side only and so not compared).")


class Change(_Model):
    """A change of image digest between consecutive windows and what it did to stability."""

    windowBefore: str
    windowAfter: str
    digestBefore: str
    digestAfter: str
    trustBefore: str
    trustAfter: str
    recordsBefore: int
    recordsAfter: int
    meanStabilityBefore: float | None
    meanStabilityAfter: float | None
    meanStabilityShift: float | None
    meanStabilityShiftCI: list[float] | None = Field(
        description="95% Welch confidence interval of the shift in mean stability.")
    p95DurationBefore: float | None
    p95DurationAfter: float | None
    p95DurationShift: float | None
    p95DurationShiftCI: list[float] | None = Field(
        description="95% percentile-bootstrap interval of the shift in p95 duration_ms.")
    significant: bool = Field(
        description="True when the verdict is 'regressed' or 'improved'.")
    verdict: str = Field(
        default="no evidence",
        description="'regressed' (stability down or p95 duration up), 'improved', or 'no "
                    "evidence', from the like-with-like intervals: one that excludes zero.")
    adjustedMeanStabilityShift: float | None = Field(
        default=None, description="Shift in mean stability compared within each backend and "
                                  "device, combined with Mantel-Haenszel weights.")
    adjustedMeanStabilityShiftCI: list[float] | None = Field(
        default=None, description="95% Welch-Satterthwaite interval of the adjusted shift.")
    adjustedP95DurationShift: float | None = Field(
        default=None, description="Shift in p95 duration_ms within each backend and device, "
                                  "combined with the same weights.")
    adjustedP95DurationShiftCI: list[float] | None = Field(
        default=None, description="95% stratified percentile-bootstrap interval.")
    comparedShare: float | None = Field(
        default=None, description="Share of the change's records in strata seen on both sides.")
    mixShift: float | None = Field(
        default=None, description="Total variation distance between the backend/device mix "
                                  "before and after (0 = same mix, 1 = disjoint).")
    strata: list[StratumShift] = Field(default_factory=list)

    def compared_records(self) -> tuple[int, int]:
        """Records before and after in the strata compared like with like (weight above 0)."""
        return (sum(s.recordsBefore for s in self.strata if s.weight > 0),
                sum(s.recordsAfter for s in self.strata if s.weight > 0))

    def too_few_records(self) -> bool:
        """True when strata were compared but a side has fewer records than a verdict needs
        (when none could be compared, that is the reason, not their number)."""
        before, after = self.compared_records()
        return before + after > 0 and min(before, after) < MIN_VERDICT_RECORDS


class CorruptFile(_Model):
    path: str
    reason: str


class CorruptFiles(_Model):
    count: int
    files: list[CorruptFile]


class InvalidExample(_Model):
    path: str
    index: int = Field(description="1-based position of the record in the file's records list.")
    reason: str


class InvalidRecords(_Model):
    count: int
    byReason: dict[str, int]
    examples: list[InvalidExample] = Field(description="Up to 50 examples.")


class GpuCard(_Model):
    """Aggregated rocm-smi/amd-smi readings for one GPU across snapshots: one row per card
    index and GPU (unique id, else name), so snapshots from different machines whose GPUs share
    an index are not merged into one row."""

    card: str
    name: str | None
    uniqueId: str | None = None
    snapshots: int
    maxTemperatureEdgeC: float | None
    maxTemperatureJunctionC: float | None
    maxTemperatureMemoryC: float | None = None
    meanPowerW: float | None
    maxPowerW: float | None
    meanGpuUsePercent: float | None
    maxFanSpeedPercent: float | None = None
    maxVramUsedBytes: int | None
    vramTotalBytes: int | None
    vendor: str | None = Field(default=None, description="'AMD' or 'NVIDIA'.")
    source: str | None = Field(
        default=None, description="The tool whose snapshots these are: rocm-smi, amd-smi, "
                                  "nvidia-smi (CSV or XML).")
    maxTemperatureGpuC: float | None = Field(
        default=None, description="NVIDIA's die temperature (temperature.gpu / gpu_temp); AMD "
                                  "cards report edge and junction instead.")
    powerLimitW: float | None = Field(
        default=None, description="Highest power limit (cap) the card reported.")
    maxClocksMhz: dict[str, float] = Field(
        default_factory=dict, description="Highest reading of each clock, by the tool's own "
                                          "names (sclk/mclk, gfx_0, graphics/sm/memory).")


class LostGpu(_Model):
    """A GPU a snapshot's tool said it could not reach (nvidia-smi's "Unable to determine the
    device handle for GPU 0000:0B:00.0: Unknown Error" line, printed in place of its row): the
    snapshot's other cards are read, this one is reported rather than silently missing."""

    path: str
    gpu: str = Field(description="The GPU as the tool named it (a PCI bus id, or index and "
                                 "bus id).")
    reason: str = Field(description="The tool's reason, e.g. 'Unknown Error', 'GPU is lost. "
                                    "Reboot the system to recover this GPU'.")


class GpuMetrics(_Model):
    snapshotCount: int
    cards: list[GpuCard]
    lostGpus: list[LostGpu] = Field(default_factory=list)


class TelemetrySummary(_Model):
    """The whole `telemetry_summary.json`."""

    schemaVersion: int = SUMMARY_SCHEMA_VERSION
    generatedAt: str
    sourceDirectory: str
    source_directory: str
    backend: str = Field(description="The origin's backend label: the one backend the session "
                                     "files name, 'mixed' for several, 'unknown' for none.")
    deviceName: str = Field(description="The origin's device label: the one device, 'mixed', "
                                        "or 'unspecified'.")
    device_name: str
    sessionCount: int = Field(description="The origin's meaning: the number of aggregated "
                                          "(valid) records, as recordCount.")
    session_count: int
    sessionFileCount: int = Field(description="Session files that held at least one valid "
                                              "record.")
    recordCount: int = Field(description="Valid records (invalid ones are counted apart).")
    meanStability: float = Field(description="Mean record stability; 0 without records, "
                                             "as the origin wrote it.")
    mean_stability: float
    variance: float = Field(description="Sample variance of record stability scores; 0 below "
                                        "two records, as the origin wrote it.")
    stability_variance: float
    driftPercentile: float = Field(
        description="The origin's p95 of record duration_ms: the element at index "
                    "floor(0.95*(n-1)) of the sorted durations; 0 without durations.")
    drift_index: float
    durationP95: float | None = Field(
        description="95th percentile of record duration_ms by linear interpolation (numpy "
                    "default, DuckDB quantile_cont); null without durations.")
    window: str = Field(description="Width of the time windows, e.g. '1d'.")
    trustStatus: str = Field(description="Trust status of the most recent session's image; "
                                         "'unknown' when there is no evidence.")
    provenanceIssuer: str = Field(description="'unknown' when there is no evidence.")
    provenanceTimestamp: str = Field(description="'unknown' when there is no evidence.")
    digestAlgorithm: str = Field(description="'unknown' when there is no evidence.")
    policyDecision: str = Field(description="'mode=unknown' when there is no evidence.")
    provenanceDigest: str | None
    provenanceSource: str | None
    trusted: Stats = Field(description="Sessions whose image verified (trustStatus 'valid').")
    untrusted: Stats = Field(description="Sessions whose image failed verification.")
    unverified: Stats = Field(description="Sessions with no evidence for their image.")
    untrustedSessions: list[str]
    corruptFiles: CorruptFiles
    invalidRecords: InvalidRecords
    breakdown: Breakdown
    changes: list[Change]
    gpuMetrics: GpuMetrics

    @model_validator(mode="after")
    def _aliases_agree(self) -> TelemetrySummary:
        pairs = [(self.sourceDirectory, self.source_directory),
                 (self.sessionCount, self.session_count),
                 (self.deviceName, self.device_name),
                 (self.meanStability, self.mean_stability),
                 (self.variance, self.stability_variance),
                 (self.driftPercentile, self.drift_index)]
        if any(a != b for a, b in pairs):
            raise ValueError("snake-case aliases must equal their camelCase keys")
        return self

    @property
    def p95(self) -> float | None:
        """The p95 duration the views show: clamp's interpolated one, else (a summary of the
        origin's, which has none) the origin's driftPercentile; none when there were no
        durations (the origin wrote 0 there, which a reader would take for a measured 0 ms)."""
        if self.durationP95 is not None:
            return self.durationP95
        return self.driftPercentile if self.recordCount and self.driftPercentile else None

    @property
    def mean(self) -> float | None:
        """The mean stability the views show: none without records (the origin's 0 there)."""
        return self.meanStability if self.recordCount else None

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"
