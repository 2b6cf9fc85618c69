"""The report's comparison table marks a trained number whose run did not converge."""

from __future__ import annotations

from toyforge.report.persian_rug_items import _compare_table

ROW = {"ratio": 0.25, "feature_prob": 0.05, "theory_regime": "symmetric", "theory_loss": 0.01,
       "finite_theory_loss": 0.011, "construction_loss": 0.011, "construction_stderr": 1e-4,
       "construction_vs_finite_z": 0.1, "trained_loss": 0.012, "trained_stderr": 1e-4}  # fmt: skip


def test_converged_column_says_yes_no_or_unknown():
    rows = [
        {**ROW, "trained_converged": True, "trained_steps": 2400},
        {**ROW, "trained_converged": False, "trained_steps": 1500},
        ROW,  # a cached row from before the convergence rule
        {**ROW, "trained_loss": None},
    ]
    table = _compare_table(rows, "t")
    assert table.columns[-1] == "trained converged"
    assert [row[-1] for row in table.rows] == [
        "yes (2400 steps)", "NO (budget, 1500 steps)", "unknown", ""
    ]  # fmt: skip
