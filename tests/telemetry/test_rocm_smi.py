"""The rocm-smi reader on the real sample and on the variations real output shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.telemetry.rocm_smi import parse_number, parse_rocm_smi, read_rocm_smi

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples" / "rocm-smi"


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples not present")
def test_real_rx6700xt_sample() -> None:
    snap = read_rocm_smi(SAMPLES / "rx6700xt_rocm612.json")
    assert snap.driver_version == "6.3.6"
    (card,) = snap.cards
    assert card.card == "card0"
    assert card.name == "Navi 22 [Radeon RX 6700/6700 XT / 6800M]"
    assert card.temperature_edge_c == 45.0 and card.temperature_junction_c == 47.0
    assert card.temperature_memory_c == 46.0
    assert card.power_w == 6.0 and card.power_cap_w == 211.0
    assert card.gpu_use_percent == 0.0 and card.vram_allocated_percent == 12.0
    assert card.vram_total_bytes == 12868124672 and card.vram_used_bytes == 1572745216
    assert card.clocks_mhz["fclk"] == 1051.0 and card.clocks_mhz["sclk"] == 0.0
    assert card.gfx_version == "gfx1031" and card.serial is None  # "N/A"
    assert "SMC firmware version" in card.extra  # unknown keys kept, not rejected


def test_key_case_and_spacing_variations() -> None:
    snap = parse_rocm_smi({"card1": {"Card series": "MI210", "temperature (sensor EDGE) (c)":
                                     "50.5", "GPU  use (%)": "N/A", "New Key": "1"}})
    card = snap.cards[0]
    assert card.name == "MI210" and card.temperature_edge_c == 50.5
    assert card.gpu_use_percent is None and card.extra == {"New Key": "1"}


def test_not_rocm_smi_output() -> None:
    with pytest.raises(ValueError):
        parse_rocm_smi([1, 2])
    with pytest.raises(ValueError):
        parse_rocm_smi({"system": {"Driver version": "1"}})


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_rocm_smi(tmp_path / "x.json")


def test_parse_number_forms() -> None:
    assert parse_number("(1051Mhz)") == 1051.0 and parse_number("N/A") is None
    assert parse_number("1 (16.0GT/s x16)") == 1.0 and parse_number("-3.5e2") == -350.0


@given(st.dictionaries(st.text(max_size=40), st.one_of(st.text(max_size=20), st.integers(),
                                                       st.none(), st.floats()), max_size=20))
def test_any_card_dict_parses(values: dict[str, Any]) -> None:
    snap = parse_rocm_smi({"card0": values})
    json.dumps(snap.cards[0].extra)


def test_rainbowminer_749_sensor_mem_spelling() -> None:
    # RainbowMiner issue #749: "Temperature (Sensor mem) (c)" rather than "... memory ..."
    snap = parse_rocm_smi({"card0": {
        "Fan Speed (%)": "45", "Average Graphics Package Power (W)": "222.0",
        "Temperature (Sensor mem) (c)": "79.0", "Fan Speed (level)": "117",
        "Temperature (Sensor junction) (c)": "103.0", "Temperature (Sensor edge) (c)": "77.0"}})
    card = snap.cards[0]
    assert card.temperature_memory_c == 79.0 and card.temperature_junction_c == 103.0
    assert card.temperature_edge_c == 77.0 and card.power_w == 222.0
    assert card.fan_speed_percent == 45.0
    assert card.extra == {"Fan Speed (level)": "117"}


def test_rocm_smi_lib_120_memory_use_bytes() -> None:
    # ROCm/rocm_smi_lib PR #120: `--showmemuse --json` with byte counts
    card = parse_rocm_smi({"card0": {
        "GPU memory use (%)": "0.10168946267106549", "GPU memory use": "17453056",
        "GPU memory available": "17163091968", "Memory Activity": "N/A"}}).cards[0]
    assert card.vram_used_bytes == 17453056 and card.vram_total_bytes == 17163091968
    assert card.vram_allocated_percent == pytest.approx(0.10168946267106549)
    assert card.extra == {"Memory Activity": "N/A"}
    # the "VRAM Total ..." spellings stay first when both are present
    both = parse_rocm_smi({"card0": {
        "GPU memory use": "1", "GPU memory available": "2",
        "VRAM Total Memory (B)": "20", "VRAM Total Used Memory (B)": "10"}}).cards[0]
    assert both.vram_total_bytes == 20 and both.vram_used_bytes == 10


def test_rocm5_memory_use_is_memory_activity() -> None:
    """Telegraf's real `rocm-smi --json` of six MI100s on ROCm 5.7.1: "GPU memory use (%)" is
    rocm_smi.py's rsmi_dev_memory_busy_percent_get (the sysfs mem_busy_percent, as the
    rocm_smi_lib maintainer says on PR #120), which ROCm 6 renamed "GPU Memory Read/Write
    Activity (%)". Before: read as the share of VRAM allocated; now as memory activity."""
    for card in read_rocm_smi(TELEGRAF / "mi100_rocm571.json").cards:
        assert card.memory_activity_percent == 0.0 and card.vram_allocated_percent is None
        assert "GPU memory use (%)" not in card.extra


def test_rocm6_allocated_and_activity_keep_their_meaning() -> None:
    """Twin: ROCm 6 prints both, each read as itself."""
    (card,) = parse_rocm_smi({"card0": {"GPU Memory Allocated (VRAM%)": "62",
                                        "GPU Memory Read/Write Activity (%)": "4"}}).cards
    assert card.vram_allocated_percent == 62.0 and card.memory_activity_percent == 4.0


def test_non_finite_numbers_are_junk() -> None:
    assert parse_number("1e999") is None and parse_number(float("nan")) is None
    assert parse_number(10**400) is None and parse_number(float("-inf")) is None
    card = parse_rocm_smi({"card0": {"VRAM Total Memory (B)": "1e999"}}).cards[0]
    assert card.vram_total_bytes is None


TELEGRAF = Path(__file__).resolve().parent / "data" / "rocm_smi"

# Telegraf's expected readings for its captures (amd_rocm_smi_test.go): per card, edge,
# junction and memory temperature (C), average power (W; None where the card says "N/A"),
# VRAM used (bytes), sclk and mclk (MHz); then the file's VRAM total and driver version.
_MI100_571 = [(31, 34, 30, 39), (30, 33, 38, 37), (31, 34, 31, 35), (33, 35, 36, 39),
              (32, 34, 38, 39), (33, 35, 38, 40)]
_MI100_602 = [(53, 55, 53, 36), (55, 58, 54, 44), (54, 57, 55, 43), (51, 53, 50, 39)]
CAPTURES: dict[str, tuple[list[tuple[float, float, float, float | None, int, float, float]],
                          int, str]] = {
    "mi100_rocm571.json": ([(*t, 6782976, 300, 1200) for t in _MI100_571], 34342961152, "6.2.4"),
    "mi100_rocm602.json": ([(*t, 6750208, 300, 1200) for t in _MI100_602], 34342961152, "6.3.6"),
    "rx6700xt_rocm430.json": ([(45, 47, 46, 6.0, 1622728704, 500, 96)], 12868124672, "6.3.6"),
    "rx6700xt_rocm571.json": ([(45, 47, 46, 6.0, 1564491776, 500, 96)], 12868124672, "6.3.6"),
    "rx6700xt_rocm602.json": ([(45, 47, 46, None, 1572757504, 500, 96)], 12868124672, "6.3.6"),
    "vega-10-XT.json": ([(39, 40, 92, 15.0, 17776640, 1269, 167)], 17163091968, "5.9.25"),
    "vega-20-WKS-GL-XE.json": ([(36, 38, 35, 26.0, 10850304, 1725, 1000)], 34342961152,
                               "5.9.17"),
}


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_telegraf_captures_read_as_telegraf_reads_them(name: str) -> None:
    """Seven real captures (MI100, RX 6700 XT, Vega; ROCm 4.3 to 6.0): every card, with the
    readings Telegraf's own tests expect, through the shape-detecting reader too."""
    from clamp.telemetry.gpu import read_gpu_snapshot

    cards, vram_total, driver = CAPTURES[name]
    snap = read_rocm_smi(TELEGRAF / name)
    assert read_gpu_snapshot(TELEGRAF / name) == snap
    assert snap.driver_version == driver
    assert [c.card for c in snap.cards] == [f"card{i}" for i in range(len(cards))]
    for card, (edge, junction, memory, power, used, sclk, mclk) in zip(snap.cards, cards,
                                                                       strict=True):
        assert (card.temperature_edge_c, card.temperature_junction_c,
                card.temperature_memory_c) == (edge, junction, memory)
        assert card.power_w == power and card.gpu_use_percent == 0.0
        assert (card.vram_used_bytes, card.vram_total_bytes) == (used, vram_total)
        assert (card.clocks_mhz["sclk"], card.clocks_mhz["mclk"]) == (sclk, mclk)
        assert not any(k.lower().startswith("temperature") or k in ("Fan speed (%)", "Fan RPM")
                       for k in card.extra)  # typed, not left as text


def test_telegraf_capture_names_fans_and_hbm_sensors() -> None:
    vega10 = read_rocm_smi(TELEGRAF / "vega-10-XT.json").cards[0]
    assert vega10.fan_speed_percent == 13.0 and vega10.fan_rpm == 682.0
    # No "Card series", and "Card model" is a PCI id: no name rather than "0xc1e".
    assert vega10.name is None and vega10.model == "0xc1e" and vega10.sku == "D05101"
    rx430 = read_rocm_smi(TELEGRAF / "rx6700xt_rocm430.json").cards[0]
    assert rx430.name is None  # "Card series" holds the vendor id 0x1002
    assert set(rx430.temperatures_c) == {"edge", "junction", "memory"}  # HBM 0-3 are N/A
    mi100 = read_rocm_smi(TELEGRAF / "mi100_rocm602.json").cards[0]
    assert mi100.name == "Arcturus GL-XL [Instinct MI100]" and mi100.gpu_id is not None
    hbm = parse_rocm_smi({"card0": {"Temperature (Sensor HBM 0) (C)": "61.0",
                                    "Temperature (Sensor HBM 1) (C)": "64.0"}}).cards[0]
    assert hbm.temperatures_c == {"hbm 0": 61.0, "hbm 1": 64.0}
    assert hbm.temperature_memory_c == 64.0 and hbm.extra == {}


def test_same_card_index_on_different_gpus_stays_apart(tmp_path: Path) -> None:
    """Snapshots gathered from several runners: card0 of two MI100 hosts (one reports a
    unique id, one does not) and card0 of an RX 6700 XT host are three rows, each with its own
    VRAM figures."""
    from clamp.telemetry.gpu import summarise_gpu

    for name in ("mi100_rocm571.json", "rx6700xt_rocm571.json", "mi100_rocm602.json"):
        (tmp_path / name).write_bytes((TELEGRAF / name).read_bytes())
    metrics, corrupt = summarise_gpu(tmp_path)
    assert corrupt == [] and metrics.snapshotCount == 3
    card0 = [c for c in metrics.cards if c.card == "card0"]
    assert [c.snapshots for c in card0] == [1, 1, 1]
    navi, = (c for c in card0 if c.name == "Navi 22 [Radeon RX 6700/6700 XT / 6800M]")
    assert navi.vramTotalBytes == 12868124672 and navi.maxVramUsedBytes == 1564491776
    mi100_602, = (c for c in card0 if c.uniqueId)
    assert mi100_602.name == "Arcturus GL-XL [Instinct MI100]"
    assert mi100_602.vramTotalBytes == 34342961152 and mi100_602.maxTemperatureEdgeC == 53.0
    assert mi100_602.maxTemperatureMemoryC == 53.0
