"""``toyforge figure structure`` and ``toyforge figure families``: the solution-family envelope.

* ``structure``: the winning family over (log p, r) from a fine ``predict_grid``
  (``--resolution`` points per axis, p geometric from ``--p-min`` to 1, r linear in (0, 1]).
* ``families``: loss against the ratio at each ``--feature-probs`` value: envelope, Persian
  rug, time sharing, pair rug, polytope blocks (docs/solution_families.md#figures).
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import figure_path, float_arg, float_list_arg


def register(members: Any) -> None:
    """Add ``structure`` and ``families`` to ``toyforge figure``."""
    phase = members.add_parser(
        "structure", help="winning solution family over (log p, r)", description=__doc__
    )
    phase.add_argument(
        "--resolution", type=int, default=160, help="grid points per axis (8 to 400)"
    )
    phase.add_argument(
        "--p-min", type=float_arg, default=1e-3, help="smallest feature probability, in (0, 1)"
    )
    phase.add_argument("--out", required=True, help="image file (.png, .pdf, .svg)")
    phase.set_defaults(func=run_structure)
    curves = members.add_parser(
        "families", help="loss vs ratio for every solution family", description=__doc__
    )
    curves.add_argument(
        "--feature-probs",
        type=float_list_arg,
        default=(0.01, 0.05, 0.16, 0.48),
        help="comma-separated feature probabilities, one panel each (at most 6)",
    )
    curves.add_argument("--resolution", type=int, default=120, help="ratios per curve (8 to 400)")
    curves.add_argument("--out", required=True, help="image file (.png, .pdf, .svg)")
    curves.set_defaults(func=run_families)


def _check(args: argparse.Namespace) -> None:
    from toyforge.core.errors import InvalidParameter

    if not 8 <= args.resolution <= 400:
        raise InvalidParameter("--resolution", args.resolution, "an integer from 8 to 400")
    if hasattr(args, "p_min") and not 0 < args.p_min < 1:
        raise InvalidParameter("--p-min", args.p_min, "0 < --p-min < 1")
    probs = getattr(args, "feature_probs", ())
    if len(probs) > 6 or any(not 0 < p <= 1 for p in probs):
        raise InvalidParameter("--feature-probs", list(probs), "1 to 6 values in (0, 1]")


def run_structure(args: argparse.Namespace) -> int:
    """Compute the fine grid, draw the map."""
    import numpy as np

    from toyforge.figures._style import save_figure
    from toyforge.figures.structure import structure_phase_diagram
    from toyforge.theory import predict_grid

    _check(args)
    out = figure_path(args.out)
    n = args.resolution
    grid = predict_grid(
        np.linspace(1.0 / n, 1.0, n), np.geomspace(args.p_min, 1.0, n), bounds=False
    )
    config = {"figure": "structure", "resolution": n, "p_min": args.p_min}
    save_figure(structure_phase_diagram(grid), out, config)
    print(f"wrote {out}")
    return 0


def run_families(args: argparse.Namespace) -> int:
    """Compute each family's curves, draw them."""
    import numpy as np

    from toyforge.figures._style import save_figure
    from toyforge.figures.structure import family_curves_figure
    from toyforge.theory.family_curves import family_curves

    _check(args)
    out = figure_path(args.out)
    ratios = np.linspace(0.01, 1.0, args.resolution)
    curves = [family_curves(ratios, p) for p in args.feature_probs]
    config = {
        "figure": "families",
        "feature_probs": list(args.feature_probs),
        "resolution": args.resolution,
    }
    save_figure(family_curves_figure(curves), out, config)
    print(f"wrote {out}")
    return 0
