"""``toyforge grok-phase`` end to end on a tiny grid."""

from __future__ import annotations

import json

from toyforge.cli import main


def test_grok_phase_writes_json_and_plot(tmp_path, capsys):
    out, plot = tmp_path / "phase.json", tmp_path / "phase.png"
    argv = [
        "grok-phase", "--grid", "2", "--seeds", "1", "--steps", "200", "--modulus", "11",
        "--embed", "8", "--hidden", "8", "--out", str(out), "--plot", str(plot), "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    assert "train_fraction x weight_decay" in capsys.readouterr().out
    payload = json.loads(out.read_text())
    assert [d["x"]["name"] for d in payload["diagrams"]] == ["train_fraction", "lr"]
    for diagram in payload["diagrams"]:
        assert len(diagram["phase"]) == 2 and len(diagram["phase"][0]) == 2
        assert diagram["y"]["name"] == "weight_decay"
    assert plot.stat().st_size > 0
