"""The reproduction report behind ``toyforge report``: every gallery figure and a summary.

:func:`run_report` regenerates each figure of ``figures/gallery`` (same file names) and writes
``REPORT.md``: theory vs construction vs trained tables (with standard errors and relative
differences) for the Persian rug, the modular-addition constructions and the grokking run, the
double-descent curve, plus the config, the toyforge version and the timing of every item.

Caching: the expensive parts of an item run through the sweep machinery
(:func:`toyforge.verify.sweep.run_sweep`, content-hashed per-task records under
``OUT/.cache/<item>/<sweep>/tasks/``); the grokking run is cached as a weight file + history
keyed by the SHA-256 of its config, the double-descent curve by its resumable JSON file. A
second run with the same config recomputes nothing and only redraws.

It lives in the front-door layer because it uses every other layer, figures included.
Nothing here prints: :func:`run_report` reports each finished item to an optional callback.

Modules: :mod:`~toyforge.report.config` (sizes), :mod:`~toyforge.report.results` (tables,
results, ``REPORT.md``), :mod:`~toyforge.report.context` (what items share), the items of
:mod:`~toyforge.report.persian_rug_items`, :mod:`~toyforge.report.modular_items` and
:mod:`~toyforge.report.memorization_items`, and :mod:`~toyforge.report.runner`.
"""

from __future__ import annotations

from toyforge.report.config import FULL_REPORT, QUICK_REPORT, ReportConfig
from toyforge.report.persian_rug_items import convergence_point_task, curve_point_task
from toyforge.report.results import ItemResult, ReportResult, Table, summary_markdown
from toyforge.report.runner import ITEMS, run_report

__all__ = [
    "FULL_REPORT",
    "ITEMS",
    "QUICK_REPORT",
    "ItemResult",
    "ReportConfig",
    "ReportResult",
    "Table",
    "convergence_point_task",
    "curve_point_task",
    "run_report",
    "summary_markdown",
]
