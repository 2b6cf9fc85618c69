"""Run the report: every item in order, then ``REPORT.md``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from toyforge.core.errors import InvalidParameter
from toyforge.core.fileio import atomic_write_text
from toyforge.core.serde import to_jsonable
from toyforge.report.config import FULL_REPORT, ReportConfig
from toyforge.report.context import ReportContext
from toyforge.report.features_items import item_pairs, item_tms, item_two_features, item_width
from toyforge.report.grok_items import item_grok_phase
from toyforge.report.memorization_items import item_memorization, item_reconstruction
from toyforge.report.modular_items import item_modular
from toyforge.report.persian_rug_items import (
    item_compare,
    item_convergence,
    item_loss_curves,
    item_phase,
    item_rug,
)
from toyforge.report.results import (
    ItemResult,
    ReportResult,
    Table,
    item_from_record,
    item_record,
    summary_markdown,
)
from toyforge.report.structure_items import item_structure
from toyforge.verify.sweep import InProcessExecutor, ProcessPoolExecutor

__all__ = ["ITEMS", "run_report"]

logger = logging.getLogger(__name__)


ITEMS: dict[str, Callable[[ReportContext], tuple[list[Path], list[Table], Any]]] = {
    "phase": item_phase,
    "rug": item_rug,
    "loss_curves": item_loss_curves,
    "convergence": item_convergence,
    "compare": item_compare,
    "modular": item_modular,
    "memorization": item_memorization,
    "reconstruction": item_reconstruction,
    "structure": item_structure,
    "two_features": item_two_features,
    "tms": item_tms,
    "width": item_width,
    "pairs": item_pairs,
    "grok_phase": item_grok_phase,
}
"""Report items by name, in report order. Figures per item: phase → phase_diagram.png,
sweep_phase.png; rug → rug.png, rug_2e20_crop.png, rug_vs_trained.png; loss_curves →
loss_vs_ratio.png, loss_vs_feature_prob.png; convergence → convergence.png; compare → (table
only); modular → modular_grokking/spectrum/neurons/weights.png; memorization →
memorization_double_descent/geometry/dimensionality.png; reconstruction →
memorization_reconstruction.png; structure → structure_phase.png, structure_families.png;
two_features → nonuniform_two_feature_phase.png; tms → nonuniform_tms_norms.png,
nonuniform_tms_dimensionality.png; width → nonuniform_loss_vs_width.png; pairs →
nonuniform_pair_geometry.png; grok_phase → grok_phase.png."""

ItemCallback = Callable[[str, "ItemResult"], None]


def _executor(workers: int | None) -> Any:
    if workers is None:
        return None
    return InProcessExecutor() if workers <= 1 else ProcessPoolExecutor(workers=workers)


def run_report(
    out: str | Path,
    config: ReportConfig | None = None,
    *,
    only: Sequence[str] | None = None,
    workers: int | None = None,
    on_item: ItemCallback | None = None,
) -> ReportResult:
    """Regenerate the report's figures and write ``OUT/REPORT.md``.

    Parameters
    ----------
    out : path
        Output folder (created); the cache lives in ``out/.cache``.
    config : ReportConfig, optional
        :data:`FULL_REPORT` (default) or :data:`QUICK_REPORT`, or your own sizes.
    only : sequence of str, optional
        Item names (keys of :data:`ITEMS`); default all. ``REPORT.md`` still shows every item
        run into ``out`` with the same config (by name): the items run now replace their
        earlier sections, the others are kept from their last run (each item's section is
        recorded under ``out/.report-items/``).
    workers : int, optional
        Sweep workers (1: in-process); default: the sweep's choice (a process pool with one
        worker per CPU for more than a few expensive tasks).
    on_item : callable, optional
        ``on_item(name, item_result)`` after each item.
    """
    config = config or FULL_REPORT
    names = list(ITEMS) if not only else list(only)
    unknown = [name for name in names if name not in ITEMS]
    if unknown:
        raise InvalidParameter("only", unknown, f"item names among {list(ITEMS)}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = []
    for name in names:
        ctx = ReportContext(out=folder, config=config, executor=_executor(workers))
        begin = time.perf_counter()
        paths, tables, item_config = ITEMS[name](ctx)
        item = ItemResult(
            name=name,
            figures=tuple(paths),
            tables=tuple(tables),
            config=to_jsonable(item_config),
            seconds=time.perf_counter() - begin,
            computed=ctx.computed,
        )
        results.append(item)
        if on_item is not None:
            on_item(name, item)
    result = ReportResult(
        config=config,
        items=tuple(results),
        summary_path=folder / "REPORT.md",
        seconds=time.perf_counter() - started,
    )
    merged = _merge_with_earlier_items(folder, config.name, results)
    atomic_write_text(result.summary_path, summary_markdown(result, merged))
    return result


def _merge_with_earlier_items(
    folder: Path, config_name: str, results: Sequence[ItemResult]
) -> list[ItemResult]:
    """Record the items run now; return every recorded item of this config, in report order."""
    records = folder / ".report-items"
    records.mkdir(parents=True, exist_ok=True)
    for item in results:
        record = item_record(item, config_name)
        atomic_write_text(records / f"{item.name}.json", json.dumps(record, indent=1))
    merged = []
    for name in ITEMS:
        path = records / f"{name}.json"
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text())
            if record.get("config_name") == config_name:
                merged.append(item_from_record(record, folder))
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("ignoring an unreadable report record %s", path)
    return merged
