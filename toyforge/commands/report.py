"""``toyforge report``: regenerate every gallery figure and a Markdown summary (REPORT.md).

Expensive parts run through the sweep machinery with per-task records under ``OUT/.cache``,
so a second run only redraws. ``--quick`` uses small sizes (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import planned_folder

ITEM_NAMES = (
    "phase",
    "rug",
    "loss_curves",
    "convergence",
    "compare",
    "modular",
    "memorization",
    "reconstruction",
    "structure",
    "two_features",
    "tms",
    "width",
    "pairs",
    "grok_phase",
)
"""The report items, in report order (toyforge.report.ITEMS; listed here so that the parser
does not import the report's dependencies)."""

_EPILOG = """items:
  phase           theory phase diagram; theory vs rug vs trained on a sub-grid
  rug             rug images (n = 1024, a crop at n = 2^20) and a trained model beside it
  loss_curves     loss vs ratio and vs feature probability: theory, rug MC, trained
  convergence     the rug's loss approaching the large-N theory as n grows
  compare         theory vs Persian rug vs trained table
  modular         modular-addition constructions and a grokking run (4 figures)
  memorization    data double descent of the m = 2 model (3 figures)
  reconstruction  limits of reconstruction: test loss and accuracy over sparsity x size
  structure       winning solution family over (log p, r); loss vs ratio per family
  two_features    two features in one dimension: the layout phase diagram (theory)
  tms             TMS importance sweep: feature norms and dimensionality (trains)
  width           loss vs hidden width with power-law firing rates, trained and theory
  pairs           geometry of correlated and anticorrelated feature pairs (trains)
  grok_phase      grokking phase diagrams of modular addition (batched training)
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="regenerate the gallery figures and REPORT.md (cached)",
        description=__doc__.splitlines()[0],
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a few minutes on 2 cores"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="NAME",
        help="only these items: " + ", ".join(ITEM_NAMES) + ". REPORT.md keeps the sections "
        "of the other items from their last run into the same --out (same --quick or not)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="sweep workers (1: in-process; default one per CPU)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the report and print one line per item."""
    from toyforge.core.errors import InvalidParameter
    from toyforge.report import FULL_REPORT, QUICK_REPORT, run_report

    folder = planned_folder(args.out)  # run_report creates it after checking --only
    if args.workers is not None and args.workers < 1:
        raise InvalidParameter("--workers", args.workers, "an integer >= 1")
    config = QUICK_REPORT if args.quick else FULL_REPORT
    print(f"toyforge report ({config.name}) -> {folder}/")

    def on_item(name: str, item: Any) -> None:
        figures = ", ".join(path.name for path in item.figures) or "(tables only)"
        print(f"  {name:<13} {item.seconds:7.1f} s  {item.computed:4d} new  {figures}", flush=True)

    result = run_report(folder, config, only=args.only, workers=args.workers, on_item=on_item)
    print(f"summary: {result.summary_path} ({result.seconds:.1f} s)")
    return 0
