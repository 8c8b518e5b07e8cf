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
