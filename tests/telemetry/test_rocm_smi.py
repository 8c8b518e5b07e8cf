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
    assert card.extra == {"Fan Speed (%)": "45", "Fan Speed (level)": "117"}


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


def test_non_finite_numbers_are_junk() -> None:
    assert parse_number("1e999") is None and parse_number(float("nan")) is None
    assert parse_number(10**400) is None and parse_number(float("-inf")) is None
    card = parse_rocm_smi({"card0": {"VRAM Total Memory (B)": "1e999"}}).cards[0]
    assert card.vram_total_bytes is None
