"""The amd-smi reader on documents rebuilt from real outputs, and the rocm-smi/amd-smi dispatch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.telemetry.amd_smi import parse_amd_smi, read_amd_smi
from clamp.telemetry.gpu import parse_gpu_snapshot, read_gpu_snapshot, summarise_gpu

DATA = Path(__file__).resolve().parent / "data" / "amd_smi"
MIB = 1024 * 1024
NA = "N/A"


def q(value: Any, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


def test_beszel_737_list_usage_only() -> None:
    (card,) = read_amd_smi(DATA / "beszel737_w7700_usage.json").cards
    assert card.card == "gpu0"
    assert card.gpu_use_percent == 42.0 and card.memory_activity_percent == 1.0
    assert card.power_w is None and card.clocks_mhz == {}
    # unmapped readings are kept by dotted path, "N/A" entries are dropped
    assert card.extra == {"usage.mm_activity": "0 %", "usage.vcn_activity.0": "0 %"}


def test_ajean_39_gpu_data_object() -> None:
    snap = read_amd_smi(DATA / "ajean39_rx7800xt_gpu_data.json")
    assert snap.driver_version is None
    (card,) = snap.cards
    assert card.card == "gpu0" and card.name is None
    assert card.vram_total_bytes == 16368 * MIB == 17163091968  # MB is MiB
    assert card.vram_used_bytes == 14569 * MIB
    assert card.gpu_use_percent == 2.0 and card.temperature_junction_c == 41.0
    assert card.temperature_edge_c is None and card.temperature_memory_c is None
    assert card.power_w == 9.0 and card.voltage_mv == 706.0
    assert card.clocks_mhz == {"gfx_0": 49.0, "fclk_0": 1000.0, "socclk_0": 600.0}  # dclk_3 N/A
    assert card.extra["clock.gfx_0.max_clk"] == "2645 MHz"
    assert card.extra["clock.fclk_0.deep_sleep"] == "DISABLED"
    assert card.extra["power.soc_voltage"] == "704 mV"
    assert card.extra["power.throttle_status"] == "UNTHROTTLED"
    assert not any(k.startswith(("throttle.", "clock.dclk_3")) for k in card.extra)  # all N/A
    assert "gpu" not in card.extra and "mem_usage.total_vram" not in card.extra


def test_rocm_systems_2720_whole_blocks_na() -> None:
    (card,) = read_amd_smi(DATA / "rocm_systems2720_watch_na.json").cards
    assert card.card == "gpu0"
    assert card.gpu_use_percent is None and card.power_w is None and card.voltage_mv is None
    assert card.clocks_mhz == {}
    assert card.extra == {"timestamp": "1769014607"}


def test_powerjoular_67_power_and_clock() -> None:
    (card,) = read_amd_smi(DATA / "powerjoular67_text_as_json.json").cards
    assert card.power_w == 20.0 and card.voltage_mv == 780.0
    assert card.gpu_use_percent == 0.0 and card.memory_activity_percent == 1.0
    assert card.clocks_mhz == {"gfx_0": 14.0}
    assert card.extra["clock.gfx_0.min_clk"] == "54 MHz"
    assert card.extra["power.mem_voltage"] == "666 mV"
    assert card.extra["power.power_management"] == "ENABLED"
    assert "clock.gfx_0.clk_locked" not in card.extra


def test_every_mapping_and_unit_conversion() -> None:
    (card,) = parse_amd_smi([{
        "gpu": 3,
        "usage": {"gfx_activity": "55", "umc_activity": 7.5},
        "power": {"socket_power": q(12500, "mW"), "gfx_voltage": q(0.95, "V")},
        "temperature": {"edge": q(40, "C"), "hotspot": "52 C", "mem": q("61.5", "°C")},
        "mem_usage": {"total_vram": q(2, "GB"), "used_vram": q(512, "KB"),
                      "total_gtt": q(1024, "B"), "used_gtt": 300},
        "clock": {"gfx_0": {"clk": q(1.2, "GHz")}, "mem_0": q(96, "MHz"),
                  "soc_0": "685 MHz"}}]).cards
    assert card.card == "gpu3"
    assert card.gpu_use_percent == 55.0 and card.memory_activity_percent == 7.5
    assert card.power_w == 12.5 and card.voltage_mv == 950.0
    assert (card.temperature_edge_c, card.temperature_junction_c,
            card.temperature_memory_c) == (40.0, 52.0, 61.5)
    assert card.vram_total_bytes == 2 * 1024**3 and card.vram_used_bytes == 512 * 1024
    assert card.gtt_total_bytes == 1024 and card.gtt_used_bytes == 300 * MIB  # bare: MB (< 6.1)
    assert isinstance(card.vram_total_bytes, int)
    assert card.clocks_mhz == {"gfx_0": 1200.0, "mem_0": 96.0, "soc_0": 685.0}
    assert card.extra == {}


def test_na_spellings_and_unknown_units() -> None:
    (card,) = parse_amd_smi({"gpu_data": [{
        "gpu": 0,
        "usage": {"gfx_activity": NA, "umc_activity": q(NA, "%")},
        "power": {"socket_power": q(5, "J"), "gfx_voltage": None},
        "temperature": {"edge": q(float("nan"), "C"), "hotspot": "hot"},
        "mem_usage": {"total_vram": q(1e308, "GB"), "used_vram": "1e999 MB"},
        "clock": {"gfx_0": {"clk": q(3, "Hz")}, "mem_0": NA}}]}).cards
    assert card.gpu_use_percent is None and card.memory_activity_percent is None
    assert card.power_w is None and card.voltage_mv is None
    assert card.temperature_edge_c is None and card.temperature_junction_c is None
    assert card.vram_total_bytes is None and card.vram_used_bytes is None  # overflow
    assert card.clocks_mhz == {}
    # readings that were present but not understood stay visible in extra; N/A ones do not
    assert card.extra == {"power.socket_power": "5 J", "temperature.edge": "NaN C",
                          "temperature.hotspot": "hot", "clock.gfx_0.clk": "3 Hz",
                          "mem_usage.total_vram": "1e+308 GB",
                          "mem_usage.used_vram": "1e999 MB"}


def test_unknown_blocks_flattened_into_extra() -> None:
    (card,) = parse_amd_smi([{
        "gpu": 0, "fan": {"speed": q(30, "%"), "rpm": 900, "sensors": [True, None, {"a": "b"}]},
        "ecc": {"total_correctable_count": 0}, "new": {"value": {"x": 1}}, "empty": {},
        "odd": {"value": 2, "unit": ["W"]}}]).cards
    assert card.extra == {"fan.speed": "30 %", "fan.sensors.0": "true",
                          "fan.sensors.2.a": "b", "ecc.total_correctable_count": "0",
                          "new.value.x": "1", "odd.value": "2", "odd.unit.0": "W"}
    assert card.fan_rpm == 900.0  # typed, so not in extra


def test_card_names_from_index_or_position() -> None:
    snap = parse_amd_smi([{"gpu": 1}, "junk", {"gpu": "2"}, {"gpu": True}, {}])
    assert [c.card for c in snap.cards] == ["gpu1", "gpu2", "gpu3", "gpu4"]
    assert snap.cards[2].extra == {"gpu": "true"}  # an unusable index is kept, not lost


@pytest.mark.parametrize(("document", "reason"), [
    ({"card0": {}}, "without gpu_data"),
    ({"gpu_data": {"gpu": 0}}, "gpu_data is not a list"),
    ("N/A", "neither a JSON list nor an object"),
    (3, "neither a JSON list nor an object"),
    ([], "no GPU entries"),
    ({"gpu_data": [NA, 1, None]}, "no GPU entries"),
])
def test_bad_shapes(document: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_amd_smi(document)


def test_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_amd_smi(tmp_path / "x.json")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    for reader in (read_amd_smi, read_gpu_snapshot):
        with pytest.raises(ValueError, match="not valid JSON"):
            reader(tmp_path / "deep.json")
    with pytest.raises(ValueError, match="unreadable"):
        read_amd_smi(tmp_path / "missing.json")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.sampled_from(
        [NA, "", "42", "20 W", "1e999", "-3 mW", "UNTHROTTLED", "gpu_data", "card0"])
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(
        st.sampled_from(["gpu", "gpu_data", "usage", "power", "clock", "temperature",
                         "mem_usage", "gfx_activity", "umc_activity", "socket_power",
                         "gfx_voltage", "edge", "hotspot", "mem", "total_vram", "used_vram",
                         "total_gtt", "used_gtt", "gfx_0", "clk", "value", "unit", "card0"])
        | st.text(max_size=8), children, max_size=5),
    max_leaves=40)
UNITS = st.sampled_from(["%", "W", "mW", "V", "mV", "C", "MB", "GB", "B", "MHz", "GHz", "?"])


@given(JSON)
def test_reader_raises_only_value_error(document: Any) -> None:
    for parse in (parse_amd_smi, parse_gpu_snapshot):
        try:
            snap = parse(document)
        except ValueError:
            continue
        for card in snap.cards:
            json.dumps(card.extra)


@given(st.dictionaries(st.sampled_from(["usage", "power", "clock", "temperature", "mem_usage"]),
                       st.dictionaries(st.text(max_size=12) | st.sampled_from(
                           ["gfx_activity", "socket_power", "gfx_voltage", "edge", "total_vram",
                            "used_gtt", "gfx_0"]),
                           JSON | st.builds(q, JSON, UNITS), max_size=6), max_size=5))
def test_any_gpu_entry_parses(entry: dict[str, Any]) -> None:
    (card,) = parse_amd_smi([entry]).cards
    assert all(isinstance(v, str) for v in card.extra.values())
    for attr in ("vram_total_bytes", "vram_used_bytes", "gtt_total_bytes", "gtt_used_bytes"):
        assert getattr(card, attr) is None or isinstance(getattr(card, attr), int)


def test_dispatch_by_shape() -> None:
    assert parse_gpu_snapshot({"card0": {"GPU use (%)": "5"}}).cards[0].gpu_use_percent == 5.0
    assert parse_gpu_snapshot([{"gpu": 0, "usage": {"gfx_activity": 6}}]).cards[0].card == "gpu0"
    assert parse_gpu_snapshot({"gpu_data": [{"gpu": 1}]}).cards[0].card == "gpu1"
    for document, reason in [({"card0": "x"}, "rocm-smi: no card entries"),
                             ([1], "amd-smi: no GPU entries"),
                             ({"gpu_data": 1}, "amd-smi: gpu_data is not a list"),
                             ({"system": {}}, "not rocm-smi or amd-smi JSON"),
                             ("text", "not rocm-smi or amd-smi JSON")]:
        with pytest.raises(ValueError) as info:
            parse_gpu_snapshot(document)
        assert str(info.value) == reason


def test_summarise_mixed_directory(tmp_path: Path) -> None:
    rocm = {"system": {"Driver version": "6.3.6"},
            "card0": {"Card series": "Navi 22", "Temperature (Sensor edge) (C)": "45.0",
                      "Average Graphics Package Power (W)": "6.0", "GPU use (%)": "10",
                      "VRAM Total Memory (B)": "1000", "VRAM Total Used Memory (B)": "400"}}
    (tmp_path / "a_rocm.json").write_text(json.dumps(rocm), encoding="utf-8")
    (tmp_path / "b_amd.json").write_bytes((DATA / "ajean39_rx7800xt_gpu_data.json").read_bytes())
    (tmp_path / "c_garbage.json").write_text('{"hello": "world"}', encoding="utf-8")
    (tmp_path / "d_bad_amd.json").write_text('{"gpu_data": []}', encoding="utf-8")
    (tmp_path / "e_broken.json").write_text("{", encoding="utf-8")
    gpu, corrupt = summarise_gpu(tmp_path)
    assert gpu.snapshotCount == 2
    assert [c.card for c in gpu.cards] == ["card0", "gpu0"]
    card0, gpu0 = gpu.cards
    assert card0.name == "Navi 22" and card0.maxTemperatureEdgeC == 45.0
    assert card0.meanPowerW == 6.0 and card0.maxVramUsedBytes == 400
    assert gpu0.snapshots == 1 and gpu0.maxTemperatureJunctionC == 41.0
    assert gpu0.meanPowerW == 9.0 and gpu0.meanGpuUsePercent == 2.0
    assert gpu0.maxVramUsedBytes == 14569 * MIB and gpu0.vramTotalBytes == 16368 * MIB
    reasons = {Path(p).name: r for p, r in corrupt}
    assert reasons["c_garbage.json"] == "not rocm-smi or amd-smi JSON"
    assert reasons["d_bad_amd.json"] == "amd-smi: no GPU entries"
    assert reasons["e_broken.json"].startswith("not valid JSON")
    assert len(corrupt) == 3


@pytest.mark.parametrize("preamble", [
    b"'CTRL' + 'C' to stop watching output:\n",
    b"WARNING: AMD GPU device(s) is/are in a low-power state. Check power control/"
    b"runtime_status\n\n",
])
def test_text_before_the_json_is_skipped(tmp_path: Path, preamble: bytes) -> None:
    """Both tools print notices to stdout ahead of their JSON; a captured file keeps them."""
    for name in ("beszel737_w7700_usage.json", "ajean39_rx7800xt_gpu_data.json"):
        path = tmp_path / name
        path.write_bytes(preamble + (DATA / name).read_bytes())
        assert read_gpu_snapshot(path) == read_gpu_snapshot(DATA / name)
    rocm = tmp_path / "rocm.json"
    rocm.write_bytes(preamble + b'{"card0": {"GPU use (%)": "7"}}')
    assert read_gpu_snapshot(rocm).cards[0].gpu_use_percent == 7.0


def test_text_without_json_is_still_not_json(tmp_path: Path) -> None:
    path = tmp_path / "notice.json"
    path.write_bytes(b"WARNING: No JSON data to report\n")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_gpu_snapshot(path)
    broken = tmp_path / "broken.json"
    broken.write_bytes(b"notice\n{\"card0\": ")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_gpu_snapshot(broken)


CAPTURES = Path(__file__).resolve().parent / "data" / "amd_smi_captures"


def test_real_capture_of_a_48_gb_radeon() -> None:
    """jkoudela/amd-smi-exporter's committed sample (list layout, complete metric output)."""
    from clamp.telemetry.gpu import read_gpu_snapshot

    path = CAPTURES / "jkoudela_exporter_sample_radeon48g.json"
    snap = read_amd_smi(path)
    assert read_gpu_snapshot(path) == snap
    (gpu,) = snap.cards
    assert gpu.card == "gpu0" and gpu.power_w == 34.0 and gpu.voltage_mv == 729.0
    assert (gpu.gpu_use_percent, gpu.memory_activity_percent) == (0.0, 0.0)
    assert (gpu.temperature_edge_c, gpu.temperature_junction_c,
            gpu.temperature_memory_c) == (43.0, 49.0, 56.0)
    assert gpu.temperatures_c == {"edge": 43.0, "hotspot": 49.0, "mem": 56.0}
    assert (gpu.fan_speed_percent, gpu.fan_rpm) == (20.0, 981.0)
    # amd-smi's "MB" are MiB: 46064 MB is a 45 GiB (48 GB) card.
    assert gpu.vram_total_bytes == 46064 * 2**20 and gpu.vram_used_bytes == 1758 * 2**20
    assert gpu.gtt_total_bytes == 128797 * 2**20 and gpu.gtt_used_bytes == 300 * 2**20
    assert "fan.speed" in gpu.extra and "power.soc_voltage" in gpu.extra  # untyped, kept


def test_real_capture_from_the_amdsmi_changelog() -> None:
    """ROCm/amdsmi CHANGELOG (6.1.0, `amd-smi metric -p --json`): the power block alone."""
    (gpu,) = read_amd_smi(CAPTURES / "amdsmi_changelog_610_power_only.json").cards
    assert gpu.power_w == 10.0 and gpu.voltage_mv == 6.0
    assert gpu.temperature_edge_c is None and gpu.vram_total_bytes is None


def test_unnamed_amd_smi_gpus_of_different_machines_stay_apart(tmp_path: Path) -> None:
    """`amd-smi metric` names no GPU: two machines' gpu0 are told apart by VRAM size."""
    from clamp.telemetry.gpu import summarise_gpu

    big = (CAPTURES / "jkoudela_exporter_sample_radeon48g.json").read_bytes()
    (tmp_path / "a.json").write_bytes(big)
    small = json.loads(big)
    small[0]["mem_usage"]["total_vram"]["value"] = 8176
    (tmp_path / "b.json").write_text(json.dumps(small))
    metrics, corrupt = summarise_gpu(tmp_path)
    assert corrupt == [] and sorted(c.vramTotalBytes or 0 for c in metrics.cards) == [
        8176 * 2**20, 46064 * 2**20]
