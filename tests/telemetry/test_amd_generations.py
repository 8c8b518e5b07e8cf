"""amd-smi and rocm-smi output across releases: one Radeon RX 6600 XT captured with all three
commands (ROCm 6.x), an MI210's `amd-smi static`, an MI300X in DPX mode, an RX 7900 XT, and the
layout amd-smi wrote before ROCm 6.1 (renamed keys, unlabelled MB). Where each document comes
from is said at its test; expected values were read by eye from the source."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from clamp.telemetry.amd_smi import parse_amd_smi
from clamp.telemetry.gpu import parse_gpu_snapshot, read_gpu_snapshot, summarise_gpu

DATA = Path(__file__).resolve().parent / "data" / "amd_smi"
MIB = 2**20


def test_rx6600_metric_real_capture() -> None:
    """luckylinux/supermicro-fan-control `GPU_NOTES.md` (stored version 7c31cdb5), "Check
    Temperatures (Full Output Example)": `amd-smi metric --json` on a Radeon RX 6600 XT, list
    layout with units. No licence file, so the document is rewritten (reindented), keys and
    values as captured. It already read right: this pins it."""
    (card,) = read_gpu_snapshot(DATA / "luckylinux_rx6600_metric.json").cards
    assert card.card == "gpu0" and card.name is None  # metric names no GPU
    assert (card.temperature_edge_c, card.temperature_junction_c,
            card.temperature_memory_c) == (36.0, 37.0, 32.0)
    assert card.power_w == 6.0 and card.voltage_mv is None  # gfx_voltage {"value": "N/A"}
    assert card.gpu_use_percent == 1.0 and card.memory_activity_percent == 0.0
    assert card.vram_total_bytes == 8176 * MIB and card.vram_used_bytes == 202 * MIB
    assert card.gtt_total_bytes == 64357 * MIB and card.gtt_used_bytes == 65 * MIB
    assert card.clocks_mhz == {"gfx_0": 800.0, "mem_0": 541.0, "vclk_0": 666.0, "dclk_0": 555.0}
    assert card.fan_rpm == 0.0 and card.fan_speed_percent == 0.0
    assert "power.gfx_voltage" not in card.extra and "clock.gfx_1.clk" not in card.extra


def test_rx6600_static_and_rocm_smi_real_captures() -> None:
    """The same notes: `amd-smi static --json` (host pve028, driver 7.0.0-3-pve) and
    `rocm-smi --showallinfo --json` of the card (rewritten likewise)."""
    snap = read_gpu_snapshot(DATA / "luckylinux_rx6600_static.json")
    (card,) = snap.cards
    assert snap.driver_version == "7.0.0-3-pve"
    assert card.name == "Navi 23 [Radeon RX 6600/6600 XT"  # amd-smi cut the name short
    assert card.unique_id is None and card.serial is None  # asic_serial/product_serial N/A
    assert card.power_cap_w == 100.0 and card.vram_total_bytes == 8176 * MIB
    assert card.vbios == "020.003.000.030.000000" and card.pci_bus == "0000:0b:00.0"
    snap = read_gpu_snapshot(DATA / "luckylinux_rx6600_rocm_smi_showallinfo.json")
    (card,) = snap.cards
    assert snap.driver_version == "7.0.0-3-pve" and card.card == "card0"
    assert card.name == "Navi 23 [Radeon RX 6600/6600 XT/6600M]" and card.unique_id is None
    assert card.gpu_use_percent == 0.0 and card.vram_allocated_percent == 1.0
    assert card.sku == "D534P00" and card.gfx_version == "gfx1032"
    assert card.extra["Memory Activity"] == "N/A"  # a counter key, kept as printed


def test_rx6600_three_snapshots_in_one_directory(tmp_path: Path) -> None:
    """The unnamed metric snapshot joins the static one of the same GPU; rocm-smi's row stays
    its own (another tool's reading of the card)."""
    for name in ("metric", "static", "rocm_smi_showallinfo"):
        shutil.copy(DATA / f"luckylinux_rx6600_{name}.json", tmp_path / f"{name}.json")
    metrics, corrupt = summarise_gpu(tmp_path)
    assert corrupt == [] and metrics.snapshotCount == 3
    amd = {c.source: c for c in metrics.cards}
    assert sorted(amd) == ["amd-smi", "rocm-smi"]
    joined = amd["amd-smi"]
    assert joined.snapshots == 2 and joined.name == "Navi 23 [Radeon RX 6600/6600 XT"
    assert joined.maxTemperatureJunctionC == 37.0 and joined.powerLimitW == 100.0
    assert joined.vramTotalBytes == 8176 * MIB and joined.maxVramUsedBytes == 202 * MIB


def test_mi210_static_real_capture() -> None:
    """ROCm/device-metrics-exporter (Apache-2.0), Go test `TestParseAMDSMIStaticOutput`
    (package testrunner; index file id 4970983622): `amd-smi static --json` of an Instinct
    MI210, `gpu_data` layout. The blocks read here, copied; cache_info, ras, numa and the
    clock levels are left out. It already read right."""
    document = {"gpu_data": [{
        "gpu": 0,
        "asic": {"market_name": "AMD Instinct MI210", "vendor_id": "0x1002",
                 "vendor_name": "Advanced Micro Devices Inc. [AMD/ATI]",
                 "subvendor_id": "0x1002", "device_id": "0x740f", "subsystem_id": "0x0c34",
                 "rev_id": "0x02", "oam_id": "N/A", "num_compute_units": 104,
                 "target_graphics_version": "gfx90a"},
        "vbios": {"name": "Mi200 pcie"},
        "limit": {"max_power": {"value": 300, "unit": "W"},
                  "min_power": {"value": 0, "unit": "W"},
                  "socket_power": {"value": 300, "unit": "W"}},
        "board": {"model_number": "N/A", "product_serial": "0", "fru_id": "N/A",
                  "product_name": "N/A", "manufacturer_name": "N/A"},
        "vram": {"type": "HBM", "vendor": "HYNIX", "size": {"value": 65520, "unit": "MB"},
                 "bit_width": 4096, "max_bandwidth": {"value": "N/A", "unit": "GB/s"}}}]}
    (card,) = parse_amd_smi(document).cards
    assert card.name == "AMD Instinct MI210" and card.gfx_version == "gfx90a"
    assert card.power_cap_w == 300.0 and card.vram_total_bytes == 65520 * MIB
    assert card.serial == "0" and card.model is None  # model_number N/A
    assert "vram.max_bandwidth" not in card.extra and card.extra["vbios.name"] == "Mi200 pcie"


def _before_6_1_metric(**power: Any) -> list[dict[str, Any]]:
    """`amd-smi metric --json` as amd-smi wrote it before ROCm 6.1 (ROCm 5.7/6.0), laid out as
    ROCm/amdsmi `amdsmi_cli/amdsmi_commands.py` of that time builds it: `usage` renames
    gfx/umc/mm_activity to gfx_usage/mem_usage/mm_ip_usage, `power` has current_power,
    current_*_voltage and power_limit, `mem_usage` values are `bytes // (1024*1024)` with the
    "MB" added only to the text output. No capture of it was found in public threads, so the
    values are chosen; the shape is the source's."""
    return [{
        "gpu": 0,
        "usage": {"gfx_usage": 87, "mem_usage": 41, "mm_ip_usage": "N/A"},
        "power": {"current_power": 287, "current_gfx_voltage": 806,
                  "current_soc_voltage": 793, "current_mem_voltage": 1250,
                  "power_limit": 560, "power_management": "ENABLED",
                  "throttle_status": "UNTHROTTLED", **power},
        "clock": {"gfx": {"cur_clk": 1700, "max_clk": 1700, "min_clk": 500,
                          "sleep_clk": "N/A", "is_clk_locked": "N/A"},
                  "mem": {"cur_clk": 1600, "max_clk": 1600, "min_clk": 400,
                          "sleep_clk": "N/A"}},
        "temperature": {"edge": 43, "hotspot": 51, "mem": 60},
        "fan": {"speed": 0, "max": 255, "rpm": "N/A", "usage": "N/A"},
        "mem_usage": {"total_vram": 65520, "used_vram": 49152, "free_vram": 16368,
                      "total_visible_vram": 65520, "used_visible_vram": 49152,
                      "free_visible_vram": 16368, "total_gtt": 257712, "used_gtt": 12,
                      "free_gtt": 257700}}]


def test_amd_smi_before_rocm_6_1_metric() -> None:
    """Before: use, power, voltage and cap were dropped (unmapped keys) and 65520 MB of VRAM
    read as 65520 bytes; now every reading is in its unit."""
    (card,) = parse_amd_smi(_before_6_1_metric()).cards
    assert card.gpu_use_percent == 87.0 and card.memory_activity_percent == 41.0
    assert card.power_w == 287.0 and card.voltage_mv == 806.0 and card.power_cap_w == 560.0
    assert card.vram_total_bytes == 65520 * MIB and card.vram_used_bytes == 49152 * MIB
    assert card.gtt_total_bytes == 257712 * MIB and card.gtt_used_bytes == 12 * MIB
    assert card.clocks_mhz == {"gfx": 1700.0, "mem": 1600.0}
    assert (card.temperature_edge_c, card.temperature_junction_c) == (43.0, 51.0)
    for key in ("usage.gfx_usage", "usage.mem_usage", "power.current_power",
                "power.power_limit", "mem_usage.total_vram"):
        assert key not in card.extra
    assert card.extra["mem_usage.free_vram"] == "16368"  # not mapped, kept as printed


def test_amd_smi_before_rocm_6_1_na_stays_absent() -> None:
    """Its 0xFFFF sentinel is printed "N/A": no reading, never 0."""
    (card,) = parse_amd_smi(_before_6_1_metric(current_power="N/A", power_limit="N/A",
                                               current_gfx_voltage="N/A")).cards
    assert card.power_w is None and card.power_cap_w is None and card.voltage_mv is None
    assert "power.current_power" not in card.extra


def test_labelled_memory_is_read_in_its_own_unit() -> None:
    """Twin: 6.1+ labels every size ("MB", or "B" where a tool gives bytes): a labelled
    value keeps its unit, and the usage block's umc percentage is not the memory block."""
    (card,) = parse_amd_smi({"gpu_data": [{
        "gpu": 1, "usage": {"umc_activity": {"value": 3, "unit": "%"}},
        "mem_usage": {"total_vram": {"value": 196592, "unit": "MB"},
                      "used_vram": {"value": 1024, "unit": "B"}, "total_gtt": "2 GB"}}]}).cards
    assert card.vram_total_bytes == 196592 * MIB and card.vram_used_bytes == 1024
    assert card.gtt_total_bytes == 2 * 1024**3 and card.memory_activity_percent == 3.0


def test_amd_smi_before_rocm_6_1_static(tmp_path: Path) -> None:
    """`amd-smi static --json` before ROCm 6.1 (same source): the cap in force is
    limit.current_power (max_power is the highest settable), VRAM a bare vram_size_mb, the
    driver and VBIOS versions driver_version and vbios_version. Before: no cap, no VRAM size,
    no driver; now read, and the metric snapshot of the same GPU joins it."""
    static = [{"gpu": 0,
               "asic": {"market_name": "AMD Instinct MI250X", "asic_serial": "0x8A1B2C3D"},
               "limit": {"max_power": 600, "current_power": 560,
                         "slowdown_edge_temperature": 100},
               "driver": {"driver_name": "amdgpu", "driver_version": "6.3.6"},
               "vbios": {"vbios_name": "N/A", "vbios_version": "113-D65201-042"},
               "vram": {"vram_type": "HBM2E", "vram_vendor": "HBM2E", "vram_size_mb": 65520}}]
    snap = parse_amd_smi(static)
    (card,) = snap.cards
    assert card.power_cap_w == 560.0 and card.vram_total_bytes == 65520 * MIB
    assert snap.driver_version == "6.3.6" and card.vbios == "113-D65201-042"
    assert card.extra["limit.max_power"] == "600"
    (tmp_path / "static.json").write_text(json.dumps(static), encoding="utf-8")
    (tmp_path / "metric.json").write_text(json.dumps(_before_6_1_metric()), encoding="utf-8")
    metrics, corrupt = summarise_gpu(tmp_path)
    (gpu,) = metrics.cards
    assert corrupt == [] and gpu.snapshots == 2 and gpu.name == "AMD Instinct MI250X"
    assert gpu.vramTotalBytes == 65520 * MIB and gpu.maxVramUsedBytes == 49152 * MIB
    assert gpu.meanPowerW == 287.0 and gpu.powerLimitW == 560.0


def test_mi300x_dpx_usage_block_real_capture() -> None:
    """ROCm/amdsmi issue #134 (https://github.com/ROCm/amdsmi/issues/134): `amd-smi metric
    --json` of an MI300X in DPX mode on ROCm 7.0.2, `gpu_data[0]` of which the reporter
    printed the `usage` block (a Python dump; written here as JSON, the parts shown in full).
    Per-partition `gfx_busy_inst` lists under `xcp_N` are kept, their "N/A" left out. It
    already read right."""
    pct = {"value": 0, "unit": "%"}
    document = {"gpu_data": [{"gpu": 0, "usage": {
        "gfx_activity": pct, "umc_activity": pct, "mm_activity": "N/A",
        "vcn_activity": ["N/A"] * 4, "jpeg_activity": ["N/A"] * 32,
        "gfx_busy_inst": {"xcp_0": [pct] * 4 + ["N/A"] * 4,
                          "xcp_1": [pct] * 4 + ["N/A"] * 4}}}]}
    (card,) = parse_amd_smi(document).cards
    assert card.card == "gpu0" and card.gpu_use_percent == 0.0
    assert card.memory_activity_percent == 0.0
    assert card.extra["usage.gfx_busy_inst.xcp_1.3"] == "0 %"
    assert "usage.gfx_busy_inst.xcp_0.4" not in card.extra and len(card.extra) == 8


def test_rx7900xt_rocm_smi_real_capture() -> None:
    """marimo-team/marimo issue #9237 (https://github.com/marimo-team/marimo/issues/9237):
    `rocm-smi --showproductname --showuse --showmeminfo vram --json` on a Radeon RX 7900 XT,
    as posted. It already read right."""
    document = {"card0": {
        "GPU use (%)": "0", "VRAM Total Memory (B)": "21458059264",
        "VRAM Total Used Memory (B)": "27856896", "Card Series": "Radeon RX 7900 XT",
        "Card Model": "0x744c", "Card Vendor": "Advanced Micro Devices, Inc. [AMD/ATI]",
        "Card SKU": "D70401XT", "Subsystem ID": "0x471e", "Device Rev": "0xcc",
        "Node ID": "1", "GUID": "26967", "GFX Version": "gfx1100"}}
    (card,) = parse_gpu_snapshot(document).cards
    assert card.name == "Radeon RX 7900 XT" and card.model == "0x744c"
    assert card.vram_total_bytes == 21458059264 and card.vram_used_bytes == 27856896
    assert card.gpu_use_percent == 0.0 and card.gfx_version == "gfx1100"
