"""nvidia-smi CSV snapshots of a fleet where a GPU was lost, and CSV headers that name a field
twice.

A GPU that fell off the bus makes nvidia-smi print one line in place of its row and go on with
the others. The spellings below are quoted from public reports:
- "Unable to determine the device handle for GPU 0000:0B:00.0: Unknown Error"
  (NVIDIA/open-gpu-kernel-modules issue #387, driver 520.61.05, one 2080 Ti of four);
- "Unable to determine the device handle for GPU0000:A1:00.0: Unknown Error" (no space;
  akash-network/support issue #209, driver 535.161.07);
- "Unable to determine the device handle for GPU 0000:02:00.0: GPU is lost. Reboot the system
  to recover this GPU" (JosephKJ/OWOD issue #81);
- "Unable to detect the device handle for GPU0000:B1:00.0: Unknown Error" (Windows,
  jamesstringer90/Easy-GPU-PV issue #276);
- "Unable to determine the device handle for GPU1: 0000:34:00.0: Unknown Error" (driver
  610.57.04, which adds the index: a public session transcript the code index returned without
  its repository);
- "Unable to determine the device handle for gpu 0000:08:00.0: Unknown Error" (lower case,
  `nvidia-smi -L`; wookayin/gpustat issue #125).
Before, such a line made the whole snapshot corrupt ("GPU row 2 has 1 columns"), so the healthy
cards' readings were lost with the broken one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from clamp.telemetry import TemporalAggregator, nvidia_smi
from clamp.telemetry.gpu import summarise_gpu
from clamp.telemetry.html_report import render_html
from clamp.telemetry.inspect_view import render
from clamp.telemetry.job_summary import markdown
from clamp.telemetry.nvidia_smi import parse_nvidia_csv
from tests.telemetry.conftest import record

HEADER = "index, name, temperature.gpu [C], power.draw [W]"
ROW0 = "0, NVIDIA GeForce RTX 2080 Ti, 40, 55.10 W"
ROW2 = "2, NVIDIA GeForce RTX 2080 Ti, 41, 60.00 W"
LOST = "Unable to determine the device handle for GPU 0000:0B:00.0: Unknown Error"


@pytest.mark.parametrize(("line", "gpu", "reason"), [
    (LOST, "0000:0B:00.0", "Unknown Error"),
    ("Unable to determine the device handle for GPU0000:A1:00.0: Unknown Error",
     "0000:A1:00.0", "Unknown Error"),
    ("Unable to determine the device handle for GPU 0000:02:00.0: GPU is lost. Reboot the "
     "system to recover this GPU", "0000:02:00.0",
     "GPU is lost. Reboot the system to recover this GPU"),
    ("Unable to detect the device handle for GPU0000:B1:00.0: Unknown Error", "0000:B1:00.0",
     "Unknown Error"),
    ("Unable to determine the device handle for GPU1: 0000:34:00.0: Unknown Error",
     "1: 0000:34:00.0", "Unknown Error"),
    ("Unable to determine the device handle for gpu 0000:08:00.0: Unknown Error",
     "0000:08:00.0", "Unknown Error"),
])
def test_the_lost_gpu_spellings(line: str, gpu: str, reason: str) -> None:
    (card0, card2) = (snap := parse_nvidia_csv(f"{HEADER}\n{ROW0}\n{line}\n{ROW2}\n")).cards
    assert snap.lost == [(gpu, reason)]
    assert (card0.card, card0.temperature_gpu_c, card0.power_w) == ("nvidia0", 40.0, 55.1)
    assert (card2.card, card2.temperature_gpu_c, card2.power_w) == ("nvidia2", 41.0, 60.0)


def test_a_lost_gpu_keeps_its_place_without_an_index_column() -> None:
    """NVML enumerates the lost GPU too: the card after it is nvidia2, not nvidia1."""
    text = (f"name, temperature.gpu\nA, 40\n{LOST}\nC, 41\n"  # and a `-l` loop's second pass
            f"name, temperature.gpu\nA, 42\n{LOST}\nC, 43\n")
    snap = parse_nvidia_csv(text)
    assert [(c.card, c.temperature_gpu_c) for c in snap.cards] == [
        ("nvidia0", 40.0), ("nvidia2", 41.0), ("nvidia0", 42.0), ("nvidia2", 43.0)]
    assert len(snap.lost) == 2


def test_noheader_and_every_gpu_lost() -> None:
    row = ("0, GPU-1, NVIDIA H100 80GB HBM3, 41, 69.85, 700.00, 0, 0, 0, 81559, [N/A], 345, "
           "345, 2619")
    snap = parse_nvidia_csv(f"{LOST}\n{row}\n")  # `noheader`: the documented query's columns
    assert [c.card for c in snap.cards] == ["nvidia0"] and snap.lost == [
        ("0000:0B:00.0", "Unknown Error")]
    only = parse_nvidia_csv(f"{LOST}\n")  # nvidia-smi printed nothing else
    assert only.cards == [] and only.lost == [("0000:0B:00.0", "Unknown Error")]


def test_lost_text_is_printable_only() -> None:
    """The line is echoed in warnings: an escape code in it must not reach the terminal."""
    prefix = "Unable to determine the device handle for "
    assert nvidia_smi.lost_gpu(f"{prefix}GPU \x1b[2J0000:0B:00.0: Unknown\x07 Error") == (
        "[2J0000:0B:00.0", "Unknown Error")
    assert nvidia_smi.lost_gpu(prefix) == ("unknown", "unknown")


def test_honest_rows_that_mention_the_phrase_are_cards() -> None:
    """The twin: only a line that *starts* with the message is a lost GPU."""
    (card,) = parse_nvidia_csv("index, name\n0, Unable to determine the device handle for x\n"
                               ).cards
    assert card.name == "Unable to determine the device handle for x"
    assert len(parse_nvidia_csv(f"{HEADER}\n{ROW0}\n{ROW2}\n").cards) == 2
    with pytest.raises(ValueError, match="GPU row 2 has 1 columns"):  # other stray lines
        parse_nvidia_csv(f"{HEADER}\n{ROW0}\nNo devices were found\n")


def test_lost_gpus_reach_the_summary_and_the_views(tmp_path: Path) -> None:
    tdir = tmp_path / "build" / "telemetry"
    (tdir / "gpu").mkdir(parents=True)
    (tdir / "s.json").write_text(json.dumps({"records": [record(1)]}))
    (tdir / "gpu" / "node3.csv").write_text(f"{HEADER}\n{ROW0}\n{LOST}\n{ROW2}\n")
    s = TemporalAggregator(window="1d").accumulate(tmp_path)
    assert s.corruptFiles.count == 0 and [c.card for c in s.gpuMetrics.cards] == [
        "nvidia0", "nvidia2"]
    (lost,) = s.gpuMetrics.lostGpus
    assert (lost.path, lost.gpu, lost.reason) == ("gpu/node3.csv", "0000:0B:00.0",
                                                  "Unknown Error")
    console = Console(record=True, width=120)
    render(s, console)
    assert "lost GPU 0000:0B:00.0 in gpu/node3.csv: Unknown Error" in console.export_text()
    assert "Lost GPU 0000:0B:00.0 in gpu/node3.csv: Unknown Error" in render_html(s)
    assert "1 GPU(s) lost" in markdown(s) and "0000:0B:00.0 (Unknown Error)" in markdown(s)
    metrics, corrupt = summarise_gpu(tdir / "gpu")
    assert corrupt == [] and metrics.snapshotCount == 1


def test_a_field_named_twice_is_refused() -> None:
    """Before, the row was read into a dict and the second `power.draw` won silently. Two cells
    for one field are two readings and neither can be chosen; two captures pasted side by side
    look so. The snapshot is corrupt, with the field named."""
    with pytest.raises(ValueError, match=r"column 'power.draw' appears twice in the header"):
        parse_nvidia_csv("index, power.draw [W], power.draw [W]\n0, 10, 20\n")
    with pytest.raises(ValueError, match="appears twice"):
        parse_nvidia_csv("index, name, index\n0, A, 1\n")


def test_aliases_and_preferred_spellings_are_not_duplicates() -> None:
    """The twin: `name` and `gpu_name` are two fields of one value (the first one wins), and
    `power.draw` beside `power.draw.average` is the preference order already documented."""
    (card,) = parse_nvidia_csv("index, name, gpu_name, power.draw.average [W], power.draw [W]"
                               "\n0, A, B, 10, 20\n").cards
    assert card.name == "A" and card.power_w == 20.0


@pytest.mark.parametrize("missing", ["[N/A]", "[Not Supported]", "[Unknown Error]",
                                     "[GPU requires reset]", "[Insufficient Permissions]",
                                     "N/A", "Unknown Error"])
def test_every_no_reading_spelling_is_null(missing: str) -> None:
    (card,) = parse_nvidia_csv(f"index, temperature.gpu, power.draw\n0, {missing}, 5 W\n").cards
    assert card.temperature_gpu_c is None and card.power_w == 5.0 and card.extra == {}


LOST_SPELLINGS = st.sampled_from([
    LOST, "Unable to determine the device handle for GPU0000:A1:00.0: Unknown Error",
    "Unable to determine the device handle for GPU1: 0000:34:00.0: Unknown Error",
    "Unable to determine the device handle for GPU 0000:02:00.0: GPU is lost. Reboot the "
    "system to recover this GPU"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.integers(20, 90), LOST_SPELLINGS), min_size=1, max_size=8),
       st.booleans(), st.booleans(), st.sampled_from(["\n", "\r\n"]))
def test_lost_lines_anywhere_keep_every_other_card(
        slots: list[int | str], repeated: bool, index: bool, newline: str) -> None:
    """Each slot is a GPU in NVML order: a reading, or a lost-GPU line in its place. Every
    reading is read back on the card of its position, with or without an `index` column (and
    with the header line repeated, as a loop capture starts); every lost line is reported."""
    fields = "index, temperature.gpu" if index else "name, temperature.gpu"
    lines = [fields] * (2 if repeated else 1)  # the header as a `-l` loop repeats it, or once
    for position, slot in enumerate(slots):
        if isinstance(slot, str):
            lines.append(slot)
        else:
            lines.append(f"{position if index else 'GPU'}, {slot}")
    snap = parse_nvidia_csv(newline.join(lines) + newline)
    expected = [(f"nvidia{p}", float(s)) for p, s in enumerate(slots) if isinstance(s, int)]
    assert [(c.card, c.temperature_gpu_c) for c in snap.cards] == expected
    assert len(snap.lost) == sum(isinstance(s, str) for s in slots)


def test_a_lost_gpu_before_the_xml_document(tmp_path: Path) -> None:
    """`nvidia-smi -q -x` prints the same line ahead of the document, which lists the GPUs it
    could reach; before, the snapshot was "not valid XML: syntax error"."""
    data = Path(__file__).parent / "data" / "nvidia_smi" / "telegraf_tesla-t4_excerpt.xml"
    path = tmp_path / "gpu" / "t4.xml"
    path.parent.mkdir()
    path.write_bytes(f"{LOST}\n".encode() + data.read_bytes())
    metrics, corrupt = summarise_gpu(path.parent)
    assert corrupt == [] and [c.name for c in metrics.cards] == ["Tesla T4"]
    assert [(g.gpu, g.reason) for g in metrics.lostGpus] == [("0000:0B:00.0", "Unknown Error")]


def test_other_text_before_the_xml_is_still_refused(tmp_path: Path) -> None:
    """The twin: only lost-GPU lines are taken off; any other text leaves the XML invalid."""
    data = Path(__file__).parent / "data" / "nvidia_smi" / "telegraf_tesla-t4_excerpt.xml"
    path = tmp_path / "gpu" / "t4.xml"
    path.parent.mkdir()
    path.write_bytes(b"WARNING: something\n" + data.read_bytes())
    metrics, corrupt = summarise_gpu(path.parent)
    assert metrics.cards == [] and corrupt[0][1].startswith("nvidia-smi: not valid XML")


def test_lost_gpus_in_the_summary_are_bounded(tmp_path: Path) -> None:
    """A file of lost-GPU lines (the CSV reader takes 100,000 rows) lists the first 100."""
    from clamp.telemetry.gpu import MAX_LOST

    (tmp_path / "many.csv").write_text(f"{HEADER}\n" + f"{LOST}\n" * 5000 + f"{ROW0}\n")
    metrics, corrupt = summarise_gpu(tmp_path)
    assert corrupt == [] and len(metrics.lostGpus) == MAX_LOST == 100
    assert [c.card for c in metrics.cards] == ["nvidia0"]
