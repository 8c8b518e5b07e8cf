"""More real GPU captures (MI250 `rocm-smi -a`; A100 and H100 in MIG mode, H200 on driver 610,
Blackwell schema v13, an 8x V100S server; an MI350X `amd-smi static` layout) and the fail-closed
reading rules they motivated. Expected values were read by eye from each capture (and, for the
nvidia-smi ones, checked against the same capture's table or the source's own tests); the
parsers' properties are in test_gpu_properties.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clamp.telemetry.amd_smi import parse_amd_smi
from clamp.telemetry.gpu import read_gpu_snapshot, summarise_gpu
from clamp.telemetry.nvidia_smi import parse_nvidia_csv, parse_nvidia_xml
from clamp.telemetry.rocm_smi import parse_rocm_smi
from tests.telemetry.test_gpu_properties import all_plausible

DATA = Path(__file__).resolve().parent / "data"
MIB = 2**20


def test_mi250_rocm5_showallinfo() -> None:
    """wandb's `rocm-smi -a --json` of one MI250 GCD (ROCm 5, driver 6.2.4)."""
    snap = read_gpu_snapshot(DATA / "rocm_smi" / "wandb_mi250_rocm5_showall.json")
    assert snap.driver_version == "6.2.4"
    (card,) = snap.cards
    assert card.card == "card0" and card.name == "AMD INSTINCT MI250 (MCM) OAM AC MBA"
    assert card.unique_id == "0x719d230578348e8c" and card.serial == "PCB052715-0065"
    assert card.model == "0x0b0c" and card.gpu_id == "0x740c"  # ids, never the name
    assert (card.temperature_edge_c, card.temperature_junction_c,
            card.temperature_memory_c) == (32.0, 35.0, 43.0)
    assert card.temperatures_c["hbm 1"] == 39.0
    assert (card.power_w, card.power_cap_w, card.voltage_mv) == (89.0, 560.0, 818.0)
    assert card.gpu_use_percent == 0.0 and card.memory_activity_percent == 0.0
    assert card.vram_allocated_percent is None  # "GPU memory use (%)" is mem_busy_percent
    assert card.clocks_mhz == {"fclk": 400.0, "mclk": 1600.0, "sclk": 800.0, "socclk": 1090.0}
    # `-a` prints no VRAM sizes; counters are not readings
    assert card.vram_total_bytes is None and card.vram_used_bytes is None
    assert card.extra["GFX Activity"] == "2469071528"
    assert card.extra["Valid sclk range"] == "500Mhz - 1700Mhz"


def test_mi250_rocm6_showallinfo() -> None:
    """The ROCm 6 spelling of the same output: "Device Name", "Card Series", "GFX Version"."""
    (card,) = read_gpu_snapshot(DATA / "rocm_smi" / "wandb_mi250_rocm6_showall.json").cards
    assert card.name == "AMD INSTINCT MI250 (MCM) OAM AC MBA"
    assert card.unique_id == "0x1f9de0957d137942" and card.gfx_version == "gfx9010"
    assert (card.temperature_edge_c, card.temperature_junction_c,
            card.temperature_memory_c) == (43.0, 44.0, 53.0)
    assert (card.power_w, card.power_cap_w) == (91.0, 560.0)
    assert card.memory_activity_percent == 0.0 and card.clocks_mhz["sclk"] == 800.0
    assert card.extra["pcie clock level"] == "3 (2.5GT/s x8)"  # not a clock speed


def test_a100_in_mig_mode() -> None:
    """Telegraf's A100-SXM4-80GB in MIG mode: utilisation N/A, per-instance memory nested."""
    snap = read_gpu_snapshot(DATA / "nvidia_smi" / "telegraf_a100-sxm4-v12-mig_excerpt.xml")
    assert snap.driver_version == "535.54.03"
    (card,) = snap.cards
    assert card.name == "NVIDIA A100-SXM4-80GB"
    assert card.unique_id == "GPU-513536b6-7d19-9063-b049-1e69664bb298"
    assert card.temperature_gpu_c == 27.0 and card.temperature_memory_c == 44.0
    assert card.power_w == 67.03 and card.power_cap_w == 500.0
    assert card.gpu_use_percent is None and card.memory_activity_percent is None
    assert card.fan_speed_percent is None
    # the GPU's memory, not the first MIG instance's 19968 MiB
    assert card.vram_total_bytes == 81920 * MIB and card.vram_used_bytes == 50 * MIB
    assert card.clocks_mhz == {"graphics": 1275.0, "sm": 1275.0, "memory": 1593.0,
                               "video": 1275.0}
    assert card.voltage_mv == 912.5 and card.extra["mig_mode/current_mig"] == "Enabled"


def test_h100_in_mig_mode_under_load() -> None:
    """nvidia_gpu_exporter's H100 capture, `--format=csv` of every field, MIG on, gpu-burn."""
    snap = read_gpu_snapshot(DATA / "nvidia_smi" / "h100_mig_590_load_query_gpu.csv")
    assert snap.driver_version == "590.48.01"
    (card,) = snap.cards
    assert card.card == "nvidia0" and card.name == "NVIDIA H100 80GB HBM3"
    # the capture's table a second earlier: "52C P0 432W / 700W | 11125MiB / 81559MiB | N/A"
    assert card.temperature_gpu_c == 53.0 and card.temperature_memory_c == 59.0
    assert card.power_w == 433.78 and card.power_cap_w == 700.0
    assert card.vram_used_bytes == 11125 * MIB and card.vram_total_bytes == 81559 * MIB
    assert card.gpu_use_percent is None and card.fan_speed_percent is None
    assert card.clocks_mhz == {"graphics": 1980.0, "sm": 1980.0, "memory": 2619.0,
                               "video": 1545.0}
    # the margin to the slowdown limit is a temperature difference, not the GPU's temperature
    assert card.extra["temperature.gpu.tlimit"] == "24"
    assert card.extra["mig.mode.current"] == "Enabled"


def test_amd_smi_static_names_the_gpu() -> None:
    """An MI350X `amd-smi static` (ROCm/rocm-systems PR #2987) in amd-smi's JSON layout."""
    snap = read_gpu_snapshot(DATA / "amd_smi" / "rocmsystems2987_mi350x_static_text_as_json.json")
    assert snap.driver_version == "6.18.3"
    (card,) = snap.cards
    assert card.name == "AMD Instinct MI350X" and card.gfx_version == "gfx950"
    assert card.pci_bus == "0000:05:00.0" and card.vbios == "00154951"
    assert card.extra["board.product_name"] == "AMD Instinct MI350 OAM"  # the name is asic's
    assert card.power_w is None and card.temperature_junction_c is None


def test_amd_smi_static_sizes_and_limits() -> None:
    def static(limit: dict[str, Any]) -> Any:
        return parse_amd_smi({"gpu_data": [{
            "gpu": 0, "asic": {"market_name": "0x74a1", "asic_serial": "0xA1"},
            "vram": {"type": "HBM3", "size": {"value": 196592, "unit": "MB"}},
            "limit": limit}]}).cards[0]
    card = static({"max_power": {"value": 750, "unit": "W"},
                   "socket_power": {"value": 700, "unit": "W"}})
    assert card.power_cap_w == 700.0 and card.vram_total_bytes == 196592 * MIB
    assert card.name is None and card.unique_id == "0xA1"  # a bare PCI id is not a name
    assert card.extra["limit.max_power"] == "750 W"  # the highest settable cap, not in force
    card = static({"ppt0": {"socket_power_limit": {"value": 750000, "unit": "mW"}}})
    assert card.power_cap_w == 750.0
    assert static({"max_power": {"value": 750, "unit": "W"}}).power_cap_w is None


def test_static_and_metric_of_one_gpu_are_one_row(tmp_path: Path) -> None:
    static = {"gpu_data": [{"gpu": 0, "asic": {"market_name": "AMD Instinct MI300X",
                                                "asic_serial": "0x1A2B"},
                            "vram": {"size": {"value": 196592, "unit": "MB"}}}]}
    metric = {"gpu_data": [{"gpu": 0, "temperature": {"hotspot": {"value": 45, "unit": "C"}},
                            "mem_usage": {"total_vram": {"value": 196592, "unit": "MB"}}}]}
    (tmp_path / "static.json").write_text(json.dumps(static))
    (tmp_path / "metric.json").write_text(json.dumps(metric))
    gpu, corrupt = summarise_gpu(tmp_path)
    assert corrupt == [] and gpu.snapshotCount == 2
    (row,) = gpu.cards
    assert row.name == "AMD Instinct MI300X" and row.uniqueId == "0x1A2B"
    assert row.snapshots == 2 and row.maxTemperatureJunctionC == 45.0
    # a metric of a different-sized GPU0 (another machine) is not folded in by guess
    metric["gpu_data"][0]["mem_usage"]["total_vram"]["value"] = 65520
    (tmp_path / "other.json").write_text(json.dumps(metric))
    assert len(summarise_gpu(tmp_path)[0].cards) == 2
    # nor is anything when two named GPUs share the index
    static["gpu_data"][0]["asic"]["asic_serial"] = "0x3C4D"
    (tmp_path / "static2.json").write_text(json.dumps(static))
    assert len(summarise_gpu(tmp_path)[0].cards) == 4


@pytest.mark.parametrize(("key", "value"), [
    ("Average Graphics Package Power (W)", "N/A (Secondary die 1)"),
    ("Average Graphics Package Power (W)", "20.0 mW"),
    ("Temperature (Sensor edge) (C)", "45 W"),
    ("Temperature (Sensor edge) (C)", "0x2d"),
    ("GPU use (%)", "-1"),
    ("VRAM Total Memory (B)", "16 GB"),
    ("Fan RPM", "1200 (40%)"),
])
def test_rocm_smi_value_not_understood_is_unknown_and_kept(key: str, value: str) -> None:
    (card,) = parse_rocm_smi({"card0": {key: value}}).cards
    numbers = [card.power_w, card.temperature_edge_c, card.gpu_use_percent,
               card.vram_total_bytes, card.fan_rpm]
    assert numbers == [None] * 5 and card.temperatures_c == {}
    assert card.extra == {key: value}


def test_rocm_smi_readings_with_their_own_unit() -> None:
    (card,) = parse_rocm_smi({"card0": {
        "Temperature (Sensor junction) (C)": "51.0 °C", "Voltage (mV)": "818 mV",
        "sclk clock speed:": "(1700Mhz)", "Average Graphics Package Power (W)": 91,
        "GPU use (%)": "12 %", "VRAM Total Memory (B)": "68702699520",
        "Temperature (Sensor edge) (C)": "N/A"}}).cards
    assert card.temperature_junction_c == 51.0 and card.voltage_mv == 818.0
    assert card.clocks_mhz == {"sclk": 1700.0} and card.power_w == 91.0
    assert card.gpu_use_percent == 12.0 and card.vram_total_bytes == 68702699520
    assert card.temperature_edge_c is None and card.extra == {}


def test_amd_smi_sentinels_and_older_spellings() -> None:
    (card,) = parse_amd_smi([{
        "gpu": 0, "power": {"socket_power": "N/A", "average_socket_power": 94,
                            "current_socket_power": 717},
        "usage": {"gfx_activity": -1}, "clock": {"gfx": {"cur_clk": 800, "max_clk": 1700}}}]).cards
    assert card.power_w == 717.0  # current before average, as amdsmi's MI300 reports it
    assert card.gpu_use_percent is None and card.extra["usage.gfx_activity"] == "-1"
    assert card.clocks_mhz == {"gfx": 800.0} and card.extra["clock.gfx.max_clk"] == "1700"


def test_query_aliases_and_the_oldest_memory_block() -> None:
    """`--help-query-gpu` aliases (gpu_name, gpu_uuid, ...) and pre-v10 `<memory_usage>`."""
    (card,) = parse_nvidia_csv("gpu_name, gpu_uuid, gpu_bus_id, gpu_serial, memory.used [MiB]\n"
                               "Tesla K80, GPU-1, 00000000:04:00.0, 0322, 5\n").cards
    assert (card.name, card.unique_id, card.pci_bus, card.serial) == (
        "Tesla K80", "GPU-1", "00000000:04:00.0", "0322")
    assert card.vram_used_bytes == 5 * MIB and card.extra == {}
    (card,) = parse_nvidia_xml(
        b"<nvidia_smi_log><gpu><memory_usage><total>11519 MiB</total><used>2 MiB</used>"
        b"</memory_usage><mig_devices><mig_device><fb_memory_usage><total>9 MiB</total>"
        b"</fb_memory_usage></mig_device></mig_devices></gpu></nvidia_smi_log>").cards
    assert card.vram_total_bytes == 11519 * MIB and card.vram_used_bytes == 2 * MIB


def test_h200_driver_610_all_fields() -> None:
    """nvidia_gpu_exporter's H200 on driver 610 (241 fields, `kmd_version`, `gpu.base.*` in W)."""
    snap = read_gpu_snapshot(DATA / "nvidia_smi" / "h200_610_idle_query_gpu.csv")
    assert snap.driver_version == "610.43.02"
    (card,) = snap.cards
    # the capture's table: "38C P0 83W / 700W | 0MiB / 143771MiB | 0%"
    assert card.name == "NVIDIA H200" and card.temperature_gpu_c == 38.0
    assert card.temperature_memory_c == 38.0
    assert card.power_w == 83.38 and card.power_cap_w == 700.0
    assert card.vram_used_bytes == 0 and card.vram_total_bytes == 143771 * MIB
    assert card.gpu_use_percent == 0.0 and card.memory_activity_percent == 0.0
    assert card.clocks_mhz == {"graphics": 345.0, "sm": 345.0, "memory": 3201.0, "video": 765.0}
    assert "kmd_version" not in card.extra and "gpu.base.current" not in card.extra  # [N/A]
    assert card.extra["bbx.time_run"] == "13572810 seconds"


def test_deprecated_driver_version_gives_way_to_the_kmd_version() -> None:
    xml = (b"<nvidia_smi_log><driver_version>610.43.02 [Deprecated; will be removed in CUDA "
           b"14.0. Use KMD Version instead]</driver_version><gpu/></nvidia_smi_log>")
    assert parse_nvidia_xml(xml).driver_version == "610.43.02"
    xml = xml.replace(b"<gpu/>", b"<kmd_version>611.1</kmd_version><gpu/>")
    assert parse_nvidia_xml(xml).driver_version == "611.1"
    csv = "driver_version, kmd_version, index\n[Deprecated], 612.2, 0\n"
    assert parse_nvidia_csv(csv).driver_version == "612.2"


@pytest.mark.parametrize(("reader", "document", "attr", "kept"), [
    # 65535 is amdsmi's "not supported"; 45000 a temperature in millidegrees
    ("amd", {"usage": {"gfx_activity": {"value": 65535, "unit": "%"}}}, "gpu_use_percent",
     "usage.gfx_activity"),
    ("amd", {"temperature": {"hotspot": 45000}}, "temperature_junction_c", "temperature.hotspot"),
    ("amd", {"power": {"socket_power": {"value": 158000, "unit": "W"}}}, "power_w",
     "power.socket_power"),  # milliwatts labelled W
    ("rocm", {"Temperature (Sensor edge) (C)": "45000"}, "temperature_edge_c",
     "Temperature (Sensor edge) (C)"),
    ("rocm", {"GPU use (%)": "65535"}, "gpu_use_percent", "GPU use (%)"),
    ("rocm", {"sclk clock speed:": "(1700000000Mhz)"}, None, "sclk clock speed:"),
    ("nvidia", "index, temperature.gpu\n0, 45000\n", "temperature_gpu_c", "temperature.gpu"),
    ("nvidia", "index, clocks.gr [MHz]\n0, 1410000000\n", None, "clocks.gr"),
    ("nvidia", "index, power.draw\n0, 67030 W\n", "power_w", "power.draw"),
])
def test_readings_no_gpu_can_have_are_unknown(reader: str, document: Any, attr: str | None,
                                               kept: str) -> None:
    if reader == "amd":
        (card,) = parse_amd_smi([{"gpu": 0, **document}]).cards
    elif reader == "rocm":
        (card,) = parse_rocm_smi({"card0": document}).cards
    else:
        (card,) = parse_nvidia_csv(document).cards
    if attr is not None:
        assert getattr(card, attr) is None
    assert card.clocks_mhz == {} and card.temperatures_c == {}
    assert kept in card.extra  # shown as given, never typed


def test_blackwell_schema_v13() -> None:
    """Telegraf's RTX PRO 6000 Blackwell (schema v13): no <power_draw>, only average/instant."""
    snap = read_gpu_snapshot(
        DATA / "nvidia_smi" / "telegraf_rtx-pro-6000-blackwell-v13_excerpt.xml")
    assert snap.driver_version == "590.44.01"
    (card,) = snap.cards
    assert card.name == "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition"
    assert card.unique_id == "GPU-12345678-aaaa-bbbb-cccc-0123456789ab"
    # 24 C; the 68 C "tlimit" and the -5 C thresholds are margins, not the GPU's temperature
    assert card.temperature_gpu_c == 24.0 and card.temperatures_c == {"gpu": 24.0}
    assert card.power_w == 3.97 and card.power_cap_w == 300.0
    assert card.vram_total_bytes == 97887 * MIB and card.vram_used_bytes == 65720 * MIB
    assert card.gpu_use_percent == 0.0 and card.fan_speed_percent == 30.0
    assert card.clocks_mhz == {"graphics": 180.0, "sm": 180.0, "memory": 405.0, "video": 600.0}


def test_v100s_server_first_two_of_eight() -> None:
    """GuanceCloud datakit's 8x Tesla V100S (driver 460, schema v11), its first two <gpu>s,
    checked against datakit's own expected fields for the same two UUIDs."""
    snap = read_gpu_snapshot(DATA / "nvidia_smi" / "datakit_8x-v100s-v11_first2_excerpt.xml")
    assert snap.driver_version == "460.73.01"
    first, second = snap.cards
    assert (first.card, second.card) == ("nvidia0", "nvidia1")
    expected = [("GPU-76098dc1-d3bc-9a1b-7ea6-f7b48837829e", 66.0, 232.8, 31689, 97.0, 52.0,
                 (1410.0, 1410.0, 1107.0, 1275.0)),
                ("GPU-bbf7a241-bf9a-eb90-b2fb-d213294faf48", 58.0, 152.03, 29545, 75.0, 41.0,
                 (1432.0, 1432.0, 1107.0, 1282.0))]
    for card, (uuid, temp, power, used, util, mem_util, clocks) in zip(
            snap.cards, expected, strict=True):
        assert card.name == "Tesla V100S-PCIE-32GB" and card.unique_id == uuid
        assert card.temperature_gpu_c == temp and card.power_w == power
        assert card.power_cap_w == 250.0 and card.fan_speed_percent is None
        assert card.vram_used_bytes == used * MIB and card.vram_total_bytes == 32510 * MIB
        # the GPU's utilisation, not an accounted process's (77 %) nested below it
        assert (card.gpu_use_percent, card.memory_activity_percent) == (util, mem_util)
        assert tuple(card.clocks_mhz[k] for k in ("graphics", "sm", "memory", "video")) == clocks
    assert first.temperature_memory_c == 63.0 and second.temperature_memory_c == 56.0


def test_every_capture_in_one_directory(tmp_path: Path) -> None:
    """All committed captures as one CI job's gpu/ directory: none is corrupt, AMD and NVIDIA
    rows sit side by side, and every typed reading is plausible."""
    import shutil

    files = [p for d in ("rocm_smi", "amd_smi", "amd_smi_captures", "nvidia_smi")
             for p in sorted((DATA / d).iterdir()) if p.suffix in (".json", ".csv", ".xml")]
    for i, path in enumerate(files):
        shutil.copy(path, tmp_path / f"{i:02d}_{path.name}")
    gpu, corrupt = summarise_gpu(tmp_path)
    assert corrupt == [] and gpu.snapshotCount == len(files)
    assert {c.vendor for c in gpu.cards} == {"AMD", "NVIDIA"}
    for path in files:
        for card in read_gpu_snapshot(path).cards:
            all_plausible(card)


def test_a_capture_cut_short_is_corrupt_with_one_line(tmp_path: Path) -> None:
    """ROCm/ROCm#5706's `amd-smi metric --json` as pasted (cut after 40 lines): counted corrupt,
    with the file and the parser's position, beside a good capture that is still read."""
    import shutil

    cut = DATA / "amd_smi_refused" / "rocm5706_r9700_metric_truncated.json"
    shutil.copy(cut, tmp_path / "cut.json")
    shutil.copy(DATA / "amd_smi" / "ajean39_rx7800xt_gpu_data.json", tmp_path / "good.json")
    gpu, corrupt = summarise_gpu(tmp_path)
    assert gpu.snapshotCount == 1 and len(gpu.cards) == 1
    assert corrupt == [(str(tmp_path / "cut.json"),
                        "not valid JSON: Expecting value: line 41 column 1 (char 1063)")]
    with pytest.raises(ValueError, match="not valid JSON"):
        read_gpu_snapshot(cut)
