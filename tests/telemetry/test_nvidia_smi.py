"""The nvidia-smi readers (CSV and XML) on captures of real cards, and on hostile snapshots."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clamp.telemetry.gpu import read_gpu_snapshot, summarise_gpu
from clamp.telemetry.nvidia_smi import (
    DEFAULT_FIELDS,
    parse_nvidia_csv,
    parse_nvidia_xml,
    read_nvidia_csv,
    read_nvidia_xml,
)
from clamp.telemetry.rocm_smi import CardMetrics
from clamp.telemetry.safe_xml import MAX_DEPTH

DATA = Path(__file__).parent / "data" / "nvidia_smi"
MIB = 2**20

# Telegraf's TestGatherValidXML expectations (nvidia_smi_test.go), card by card: name, uuid,
# temperature_gpu, power_draw, memory_total/used (MiB), utilization_gpu/memory, fan_speed,
# clocks_current_graphics/sm/memory/video. None where Telegraf reports no such field.
TELEGRAF = {
    "telegraf_gtx-1070-ti.xml": (
        "GeForce GTX 1070 Ti", "GPU-f9ba66fc-a7f5-94c5-da19-019ef2f9c665", 39, None, 4096, 42,
        0, 0, 100, (135, 135, 405, 405)),
    "telegraf_gtx-1660-ti_excerpt.xml": (
        "Graphics Device", "GPU-304a277d-3545-63b8-3a36-dfde3c992989", 40, 8.93, 5912, 0, 0, 1,
        0, (300, 300, 405, 540)),
    "telegraf_tesla-t4_excerpt.xml": (
        "Tesla T4", "GPU-d37e67a5-91dd-3774-a5cb-99096249601a", 40, 26.78, 15360, 1032, 0, 0,
        None, (585, 585, 5000, 810)),
    "telegraf_rtx-3080-v12_excerpt.xml": (
        "NVIDIA GeForce RTX 3080", "GPU-19d6d965-2acc-f646-00f8-4c76979aabb4", 31, 22.78, 10240,
        1128, 0, 37, 0, (210, 210, 405, 555)),
}


def _clocks(card: CardMetrics) -> tuple[float, ...]:
    return tuple(card.clocks_mhz[k] for k in ("graphics", "sm", "memory", "video"))


@pytest.mark.parametrize("name", sorted(TELEGRAF))
def test_telegraf_captures_read_as_telegraf_expects(name: str) -> None:
    (card,) = read_nvidia_xml(DATA / name).cards
    gpu_name, uuid, temp, power, total, used, util, mem_util, fan, clocks = TELEGRAF[name]
    assert card.card == "nvidia0" and card.vendor == "NVIDIA"
    assert (card.name, card.unique_id) == (gpu_name, uuid)
    assert card.temperature_gpu_c == temp and card.temperatures_c["gpu"] == temp
    assert card.power_w == power
    assert card.vram_total_bytes == total * MIB and card.vram_used_bytes == used * MIB
    assert (card.gpu_use_percent, card.memory_activity_percent) == (util, mem_util)
    assert card.fan_speed_percent == fan
    assert _clocks(card) == clocks


def test_power_limits_across_schema_versions() -> None:
    # v11 <power_readings><enforced_power_limit>, v12 <gpu_power_readings><current_power_limit>
    assert read_nvidia_xml(DATA / "telegraf_tesla-t4_excerpt.xml").cards[0].power_cap_w == 70.0
    v12 = read_nvidia_xml(DATA / "telegraf_rtx-3080-v12_excerpt.xml")
    assert v12.cards[0].power_cap_w == 336.0 and v12.cards[0].voltage_mv == 750.0
    assert v12.driver_version == "536.40"
    assert read_nvidia_xml(DATA / "telegraf_gtx-1070-ti.xml").cards[0].power_w is None  # N/A


def test_h100_capture_with_units() -> None:
    snap = read_nvidia_csv(DATA / "h100_590_idle_columns.csv")
    (card,) = snap.cards
    assert snap.driver_version == "590.48.01"
    assert card.card == "nvidia0" and card.name == "NVIDIA H100 80GB HBM3"
    # The capture's own table: "N/A 41C P0 69W / 700W | 0MiB / 81559MiB | 0%"; dmon: mtemp 47-48.
    assert card.temperature_gpu_c == 41.0 and card.temperature_memory_c == 48.0
    assert card.power_w == 69.85 and card.power_cap_w == 700.0
    assert card.vram_total_bytes == 81559 * MIB and card.vram_used_bytes == 0
    assert card.gpu_use_percent == 0.0 and card.fan_speed_percent is None  # [N/A]
    assert _clocks(card) == (345, 345, 2619, 765)
    assert card.extra["pstate"] == "P0"
    # "[Requested functionality has been deprecated]" and "[N/A]" are no reading, not text.
    assert "power.management" not in card.extra and "hostname" not in card.extra


def test_exporter_query_rows() -> None:
    first, second = read_nvidia_csv(DATA / "nvidia_gpu_exporter_query.csv").cards
    assert first.name == "NVIDIA GeForce RTX 2080 SUPER" and first.card == "nvidia0"
    assert first.fan_speed_percent == 38.0 and first.vram_used_bytes == 575 * MIB
    assert first.serial is None and first.vbios == "90.04.7a.40.73"
    assert second.card == "nvidia1" and second.vram_used_bytes == 1234 * MIB


H100_ROW = ["0", "GPU-00000000-0000-0000-0000-000000000000", "NVIDIA H100 80GB HBM3", "41",
            "69.85", "700.00", "0", "0", "0", "81559", "[N/A]", "345", "345", "2619"]


def test_nounits_with_header_takes_the_header_unit() -> None:
    header = ", ".join(f"{f} [{u}]" if u else f for f, u in zip(
        DEFAULT_FIELDS, ["", "", "", "", "W", "W", "%", "%", "MiB", "MiB", "%", "MHz", "MHz",
                         "MHz"], strict=True))
    (card,) = parse_nvidia_csv(header + "\n" + ", ".join(H100_ROW) + "\n").cards
    assert card.power_w == 69.85 and card.vram_total_bytes == 81559 * MIB
    assert card.clocks_mhz["memory"] == 2619.0


def test_noheader_reads_the_documented_query() -> None:
    nounits = ", ".join(H100_ROW)
    units = ", ".join([*H100_ROW[:4], "69.85 W", "700.00 W", "0 %", "0 %", "0 MiB",
                       "81559 MiB", "[Not Supported]", "345 MHz", "345 MHz", "2619 MHz"])
    for text in (nounits, units):
        (card,) = parse_nvidia_csv(text + "\n").cards
        assert card.name == "NVIDIA H100 80GB HBM3" and card.power_cap_w == 700.0
        assert card.vram_total_bytes == 81559 * MIB and card.fan_speed_percent is None
    with pytest.raises(ValueError, match="no header line"):
        parse_nvidia_csv("NVIDIA H100, 41\n")


def test_unknown_unit_is_kept_not_guessed() -> None:
    (card,) = parse_nvidia_csv("index, memory.used, power.draw\n0, 3 TiB, 5 hp\n").cards
    assert card.vram_used_bytes is None and card.power_w is None
    assert card.extra == {"memory.used": "3 TiB", "power.draw": "5 hp"}
    (card,) = parse_nvidia_csv("index, power.draw\n0, 1500 mW\n").cards
    assert card.power_w == 1.5


def test_repeated_header_of_a_loop_capture() -> None:
    text = "index, temperature.gpu\n0, 40\nindex, temperature.gpu\n0, 44\n"
    assert [c.temperature_gpu_c for c in parse_nvidia_csv(text).cards] == [40.0, 44.0]
    with pytest.raises(ValueError, match="GPU row 1 has 1 columns"):
        parse_nvidia_csv("index, temperature.gpu\n0\n")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE nvidia_smi_log [
 <!ENTITY a "aaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
 <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
 <!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">
]>
<nvidia_smi_log><gpu><product_name>&i;</product_name></gpu></nvidia_smi_log>"""


@pytest.mark.parametrize("document", [
    BILLION_LAUGHS,
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b"<nvidia_smi_log><gpu><product_name>&e;</product_name></gpu></nvidia_smi_log>",
    b"<nvidia_smi_log><gpu><product_name>&undeclared;</product_name></gpu></nvidia_smi_log>",
    b"<nvidia_smi_log>" + b"<gpu>" * (MAX_DEPTH + 1) + b"</gpu>" * (MAX_DEPTH + 1)
    + b"</nvidia_smi_log>",
    b"<nvidia_smi_log><gpu>",
    b"<other/>",
    b"<nvidia_smi_log/>",
])
def test_hostile_xml_is_refused(document: bytes) -> None:
    with pytest.raises(ValueError):
        parse_nvidia_xml(document)


def test_external_dtd_name_alone_is_not_fetched_and_accepted() -> None:
    # The honest twin of the DTD attacks: real output names nvsmi_device_v11.dtd, never loaded.
    doc = (b'<?xml version="1.0" ?>\n<!DOCTYPE nvidia_smi_log SYSTEM "http://127.0.0.1:9/x.dtd">'
           b"<nvidia_smi_log><gpu><product_name>T4</product_name></gpu></nvidia_smi_log>")
    assert parse_nvidia_xml(doc).cards[0].name == "T4"


def test_billion_laughs_is_a_counted_corrupt_snapshot(tmp_path: Path) -> None:
    gpu = tmp_path / "gpu"
    gpu.mkdir()
    (gpu / "laughs.xml").write_bytes(BILLION_LAUGHS)
    (gpu / "t4.xml").write_bytes((DATA / "telegraf_tesla-t4_excerpt.xml").read_bytes())
    (gpu / "bad.csv").write_text("index, name\n0\n")
    metrics, corrupt = summarise_gpu(gpu)
    assert metrics.snapshotCount == 1 and [c.name for c in metrics.cards] == ["Tesla T4"]
    assert sorted(Path(p).name for p, _ in corrupt) == ["bad.csv", "laughs.xml"]
    assert all(reason.startswith("nvidia-smi: ") for _, reason in corrupt)
    assert any("internal subset" in reason for _, reason in corrupt)


def test_amd_and_nvidia_side_by_side(tmp_path: Path) -> None:
    gpu = tmp_path / "gpu"
    gpu.mkdir()
    (gpu / "rocm.json").write_text(json.dumps({"card0": {
        "Card series": "MI210", "Temperature (Sensor edge) (C)": "50.0",
        "Max Graphics Package Power (W)": "300.0", "sclk clock speed:": "(1700Mhz)"}}))
    for name in ("h100_590_idle_columns.csv", "telegraf_rtx-3080-v12_excerpt.xml"):
        (gpu / name).write_bytes((DATA / name).read_bytes())
    metrics, corrupt = summarise_gpu(gpu)
    assert corrupt == [] and metrics.snapshotCount == 3
    by_name = {c.name: c for c in metrics.cards}
    amd, h100 = by_name["MI210"], by_name["NVIDIA H100 80GB HBM3"]
    assert (amd.vendor, amd.source, amd.card) == ("AMD", "rocm-smi", "card0")
    assert amd.maxTemperatureEdgeC == 50.0 and amd.powerLimitW == 300.0
    assert amd.maxClocksMhz == {"sclk": 1700.0}
    assert (h100.vendor, h100.source) == ("NVIDIA", "nvidia-smi")
    assert h100.maxTemperatureGpuC == 41.0 and h100.maxTemperatureMemoryC == 48.0
    assert h100.powerLimitW == 700.0 and h100.vramTotalBytes == 81559 * MIB
    # Two GPUs that are both "nvidia0" on different machines stay two rows (told apart by uuid).
    assert sorted(c.card for c in metrics.cards) == ["card0", "nvidia0", "nvidia0"]


def test_snapshot_suffix_picks_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    path.write_text("{}")
    with pytest.raises(ValueError, match=r"^nvidia-smi: not valid XML"):
        read_gpu_snapshot(path)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_csv_parser_fails_only_with_valueerror(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_nvidia_csv(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_xml_parser_fails_only_with_valueerror(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        parse_nvidia_xml(b"<nvidia_smi_log><gpu>" + data + b"</gpu></nvidia_smi_log>")


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False), st.sampled_from(
    [("W", 1.0), ("mW", 1e-3), ("kW", 1e3)]))
def test_power_units_convert(value: float, unit: tuple[str, float]) -> None:
    (card,) = parse_nvidia_csv(f"index, power.draw\n0, {value!r} {unit[0]}\n").cards
    watts = value * unit[1]  # past 10 kW no one GPU draws it: a mislabelled unit, unknown
    assert card.power_w == (pytest.approx(watts) if watts <= 10_000 else None)


def test_windows_encodings(tmp_path: Path) -> None:
    # PowerShell's `nvidia-smi ... > file` writes UTF-16 with a BOM; XML carries its own.
    text = (DATA / "nvidia_gpu_exporter_query.csv").read_text()
    for encoding in ("utf-16", "utf-8-sig"):
        path = tmp_path / f"{encoding}.csv"
        path.write_text(text, encoding=encoding)
        assert read_nvidia_csv(path).cards[0].name == "NVIDIA GeForce RTX 2080 SUPER"
    xml = (DATA / "telegraf_gtx-1070-ti.xml").read_text().replace(
        '<?xml version="1.0" ?>', '<?xml version="1.0" encoding="UTF-16"?>')
    (tmp_path / "w.xml").write_bytes(xml.encode("utf-16"))
    assert read_nvidia_xml(tmp_path / "w.xml").cards[0].name == "GeForce GTX 1070 Ti"
    (tmp_path / "bad.csv").write_bytes(b"index, name\n0, \xff\xfe\xfd\n")
    with pytest.raises(ValueError, match="not UTF-8 text: invalid start byte"):
        read_nvidia_csv(tmp_path / "bad.csv")


def test_v13_power_readings_prefer_the_average() -> None:
    # Schema v13 (driver 535+) drops <power_draw> for average and instant readings.
    doc = (b"<nvidia_smi_log><gpu><gpu_power_readings><power_draw>N/A</power_draw>"
           b"<instant_power_draw>130.50 W</instant_power_draw>"
           b"<average_power_draw>120.25 W</average_power_draw>"
           b"<current_power_limit>450.00 W</current_power_limit></gpu_power_readings>"
           b"<module_power_readings><power_draw>999 W</power_draw></module_power_readings>"
           b"</gpu></nvidia_smi_log>")
    (card,) = parse_nvidia_xml(doc).cards
    assert card.power_w == 120.25 and card.power_cap_w == 450.0


def test_masked_ids_of_two_cards_stay_two_rows(tmp_path: Path) -> None:
    """The H100 and H200 captures share a masked uuid and index 0: two GPUs, not one H100 with
    the H200's 140 GiB."""
    data = Path(__file__).parent / "data" / "nvidia_smi"
    for name in ("h100_590_idle_columns.csv", "h200_610_idle_query_gpu.csv"):
        shutil.copy(data / name, tmp_path / name)
    metrics, failures = summarise_gpu(tmp_path)
    assert failures == []
    names = sorted(c.name or "" for c in metrics.cards)
    assert names == ["NVIDIA H100 80GB HBM3", "NVIDIA H200"]
    h100 = next(c for c in metrics.cards if c.name == "NVIDIA H100 80GB HBM3")
    assert h100.vramTotalBytes == 81559 * 2**20
