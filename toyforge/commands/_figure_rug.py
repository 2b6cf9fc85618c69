"""``toyforge figure rug``: the Persian rug's W = W_out W_in as an image.

Diverging colormap centred at zero, nearest interpolation. Above ``--size`` features the image
is the top-left ``size × size`` crop (default; shows the dyadic motifs) or the dyadic block
average (``--mode block``). ``--trained FILE`` draws a trained ReLU autoencoder's W of the same
size beside it; ``--histograms`` adds the off-diagonal weight histograms.
"""

from __future__ import annotations

import argparse
from typing import Any

from toyforge.commands._common import figure_path, float_arg


def register(members: Any) -> None:
    """Add the ``rug`` member to ``toyforge figure``."""
    parser = members.add_parser(
        "rug", help="the Persian rug's W as an image", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--features", type=int, required=True, help="n_features (power of 2)")
    parser.add_argument("--ratio", type=float_arg, required=True, help="n_hidden / n_features")
    parser.add_argument("--seed", type=int, default=0, help="seed of the row selection")
    parser.add_argument(
        "--feature-prob",
        type=float_arg,
        default=0.01,
        help="p the rug is built for (only its scalars depend on it)",
    )
    parser.add_argument(
        "--selection",
        choices=("random", "min-skewness", "first"),
        default="random",
        help="row selection",
    )
    parser.add_argument(
        "--size", type=int, default=256, help="image side in features (power of 2; default 256)"
    )
    parser.add_argument(
        "--mode",
        choices=("crop", "block"),
        default="crop",
        help="large n: top-left crop (default) or dyadic block average",
    )
    parser.add_argument(
        "--trained",
        default=None,
        help="a relu-autoencoder weight file of the same n_features to draw beside the rug",
    )
    parser.add_argument(
        "--histograms", action="store_true", help="add histograms of the off-diagonal weights"
    )
    parser.add_argument("--out", required=True, help="image file (.png, .pdf, .svg)")
    parser.set_defaults(func=run)


def _trained_matrix(path: str, n_features: int) -> Any:
    from toyforge.constructions.io import load
    from toyforge.core.errors import IncompatibleWeights

    model = load(path)
    if getattr(model, "architecture", None) != "relu-autoencoder":
        raise IncompatibleWeights(
            f"{path} holds a {model.architecture}, expected a relu-autoencoder"
        )
    if model.n_features != n_features:
        raise IncompatibleWeights(
            f"{path} has n_features={model.n_features}, the rug has {n_features}"
        )
    return model.effective_matrix()


def run(args: argparse.Namespace) -> int:
    """Build the rug, draw it, save the image."""
    from toyforge.constructions.persian_rug import check_power_of_two, persian_rug
    from toyforge.figures._style import save_figure
    from toyforge.figures.rug import model_rug_figure

    out = figure_path(args.out)
    size = check_power_of_two("--size", args.size)
    model = persian_rug(
        args.features, args.ratio, args.feature_prob, args.seed, selection=args.selection
    )
    trained = None
    if args.trained is not None:
        trained = _trained_matrix(args.trained, model.n_features)
    figure = model_rug_figure(
        model, size=size, mode=args.mode, trained_matrix=trained, histograms=args.histograms
    )
    shown = min(size, model.n_features)
    save_figure(
        figure,
        out,
        {
            "figure": "rug",
            "n_features": model.n_features,
            "ratio": args.ratio,
            "seed": args.seed,
            "size": shown,
            "mode": args.mode,
            "selection": args.selection,
        },
    )
    print(f"wrote {out}")
    return 0
