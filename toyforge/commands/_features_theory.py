"""``toyforge features classes | law | two``: the theory of non-identical features, no training.

* ``classes``: the large-N allocation of ``--ratio`` hidden neurons per feature among feature
  classes ``FRACTION:PROB[:IMPORTANCE]`` (who is dedicated, who shares a rug, who is dropped);
* ``law``: the same for a continuous law of firing rates and importances over ``--features``
  features (``--feature-probs zipf:1.2:0.4:5e-4``), bracketed by binning;
* ``two``: two features in one dimension (Wattenberg's exact forms) and, with ``--figure``,
  the phase diagram.
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import figure_path, float_arg, print_json, print_table
from toyforge.commands._feature_args import parse_classes, parse_ratios
from toyforge.core.budget import check_memory
from toyforge.core.errors import InvalidParameter

MAX_BINS = 4096


def register(members: Any) -> None:
    """Add ``classes``, ``law`` and ``two`` to ``toyforge features``."""
    classes = members.add_parser(
        "classes",
        help="large-N allocation among feature classes",
        description=__doc__.splitlines()[0],
    )
    classes.add_argument("--classes", required=True, help="FRACTION:PROB[:IMPORTANCE],...")
    classes.add_argument("--ratio", required=True, help="hidden neurons per feature m/n (R[,R...])")
    classes.add_argument("--json", action="store_true", help="print JSON")
    classes.set_defaults(func=run_classes)
    law = members.add_parser(
        "law", help="large-N loss of a continuous law (binned)", description=__doc__.splitlines()[0]
    )
    law.add_argument("--features", type=int, required=True, help="number of features n (>= 2)")
    law.add_argument("--feature-probs", required=True, help="law, e.g. zipf:1.2:0.4:5e-4")
    law.add_argument("--importance", default="constant:1", help="law, e.g. geometric:0.999")
    law.add_argument("--ratio", required=True, help="hidden neurons per feature m/n (R[,R...])")
    law.add_argument("--bins", type=int, default=64, help="about this many bins (64)")
    law.add_argument("--json", action="store_true", help="print JSON")
    law.set_defaults(func=run_law)
    two = members.add_parser(
        "two", help="two features in one dimension", description=__doc__.splitlines()[0]
    )
    two.add_argument("--density", type=float_arg, required=True, help="s: P(feature active)")
    two.add_argument(
        "--relative-importance", type=float_arg, required=True, help="r: importance of feature 2"
    )
    two.add_argument("--figure", default=None, help="also draw the phase diagram (.png/.pdf/.svg)")
    two.add_argument("--json", action="store_true", help="print JSON")
    two.set_defaults(func=run_two)


def _solution(parts: Any) -> str:
    return " + ".join(f"{p.feature_share:.3g} {p.family}@{p.dims:.3g}" for p in parts)


def run_classes(args: argparse.Namespace) -> int:
    """Print the optimal allocation at each ratio."""
    import numpy as np

    from toyforge.theory.feature_classes import allocate_classes, class_hulls

    classes = parse_classes(args.classes)
    ratios = parse_ratios(args.ratio)
    hulls = class_hulls(np.array([c.feature_prob for c in classes]))
    results = [allocate_classes(classes, r, hulls=hulls) for r in ratios]
    if args.json:
        print_json(results)
        return 0
    rows = []
    for result in results:
        for k, item in enumerate(result.classes):
            c = item.feature_class
            rows.append(
                (
                    result.ratio,
                    result.loss,
                    k,
                    c.fraction,
                    c.feature_prob,
                    c.importance,
                    item.dims_per_feature,
                    item.loss,
                    _solution(item.parts),
                )
            )
    print_table(
        rows,
        header=(
            "ratio",
            "total_loss",
            "class",
            "fraction",
            "p",
            "importance",
            "dims/feature",
            "loss/feature",
            "solution",
        ),
    )
    return 0


def run_law(args: argparse.Namespace) -> int:
    """Print the bracketed loss of a continuous law at each ratio."""
    import numpy as np

    from toyforge.theory.feature_classes import binned_allocation
    from toyforge.verify.data.laws import parse_law

    if not isinstance(args.features, int) or args.features < 2:
        raise InvalidParameter("--features", args.features, "an integer >= 2")
    check_memory("--features", args.features, 32.0 * args.features, what="the per-feature laws")
    if not 2 <= args.bins <= MAX_BINS:
        raise InvalidParameter("--bins", args.bins, f"an integer in [2, {MAX_BINS}]")
    probs = parse_law(args.feature_probs, name="--feature-probs")
    importance = parse_law(args.importance, role="importance", name="--importance")
    if probs.kind == "array" and len(probs.params) != args.features:
        probs.values(args.features)  # raises naming --feature-probs
    importance.values(args.features)
    probs.values(args.features)
    ratios = parse_ratios(args.ratio)
    try:
        results = binned_allocation(
            probs.continuous(args.features),
            importance.continuous(args.features),
            np.array(ratios),
            n_bins=args.bins,
        )
    except InvalidParameter as error:
        flag = {"feature_prob": "--feature-probs", "importance": "--importance"}.get(error.name)
        raise InvalidParameter(flag or error.name, error.value, error.allowed) from error
    if args.json:
        print_json(results)
        return 0
    print_table(
        [(r.ratio, r.loss, r.error, r.lower, r.upper, r.n_bins) for r in results],
        header=("ratio", "loss", "error", "lower", "upper", "bins"),
    )
    return 0


def run_two(args: argparse.Namespace) -> int:
    """Print the three layouts' losses and the winner; draw the diagram if asked."""
    import numpy as np

    from toyforge.theory.two_features import (
        TWO_FEATURE_LAYOUTS,
        antipodal_boundary,
        two_feature_diagram,
        two_feature_losses,
    )

    target = figure_path(args.figure, "--figure") if args.figure else None
    if not 0 < args.density <= 1:
        raise InvalidParameter("--density", args.density, "0 < s <= 1")
    if args.relative_importance < 0:
        raise InvalidParameter("--relative-importance", args.relative_importance, "r >= 0")
    losses = two_feature_losses(args.density, args.relative_importance)
    summary = {
        **{name: float(v) for name, v in zip(TWO_FEATURE_LAYOUTS, losses, strict=True)},
        "best": TWO_FEATURE_LAYOUTS[int(np.argmin(losses))],
        "antipodal_boundary": float(antipodal_boundary(args.density)),
    }
    if target is not None:
        from toyforge.figures._style import save_figure
        from toyforge.figures.features import two_feature_phase_figure

        s, r = np.geomspace(0.01, 1.0, 200), np.geomspace(0.1, 10.0, 200)
        figure = two_feature_phase_figure(two_feature_diagram(s, r), boundary=antipodal_boundary(s))
        summary["figure"] = str(save_figure(figure, target, {"command": "features two"}))
    if args.json:
        print_json(summary)
    else:
        print_table(list(summary.items()), header=("quantity", "value"))
    return 0
