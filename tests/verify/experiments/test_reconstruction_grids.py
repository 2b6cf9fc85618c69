"""The reconstruction-limit panels: one grid per setting and importance, with or without
threadpoolctl (a dev extra)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from toyforge.verify.experiments.reconstruction_grids import reconstruction_limit_panels

TINY = dict(n_features=6, n_points=20, sparsities=(0.6, 0.8), sizes=(2,), steps=5, n_test=20)


@pytest.mark.parametrize("threadpoolctl_installed", [True, False])
def test_panels_cover_both_importances(monkeypatch, threadpoolctl_installed: bool) -> None:
    if not threadpoolctl_installed:
        monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import raises ImportError
    calls = []
    panels = reconstruction_limit_panels(
        settings="tms", decay=0.5, progress=lambda done, total: calls.append((done, total)), **TINY
    )
    titles = [title for title, _ in panels]
    assert titles == ["bottleneck, uniform importance", "bottleneck, importance 0.5^i"]
    for _, grid in panels:
        assert grid.relative_loss.shape == (1, 2)  # (sizes, sparsities)
        assert np.all(np.isfinite(grid.relative_loss))
    assert calls[-1] == (4, 4)  # 2 panels x 2 sparsities x 1 size
