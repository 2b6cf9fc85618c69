"""Solution families as weights: one builder per family and the envelope's mixture.

docs/solution_families.md#building-the-envelope. Every builder returns an ordinary dense
:class:`~toyforge.constructions.models.ReluAutoencoder` ``y = ReLU(W_out W_in x + b)``:

* polytope blocks (:data:`toyforge.theory.families.FAMILIES`): block-diagonal ``W_in`` with
  the polytope's unit vectors as columns, ``W_out = s W_in^T``, ``b = s c`` from
  :func:`toyforge.theory.families.family_optimum`;
* ``asymmetric-digon``: pairs ``(+1, -lambda)`` on one neuron, each with its own scale and
  bias (:func:`toyforge.theory.families.asymmetric_digon_optimum`);
* ``dedicated``: identity rows; ``dropped``: zero weights and the best constant ``b = p/2``;
* rugs on a tight frame (:func:`tight_frame`: random Walsh–Hadamard rows when the number of
  directions is a power of two, as in Cowsik, Dolev, Infanger 2024, arXiv:2410.12101; a real
  harmonic frame otherwise): ``n_dir`` unit directions in ``m`` neurons with off-diagonal
  squared row sums ``n_dir/m - 1``; scale and threshold from the large-N theory at
  ``m / n_dir``, and each output's bias subtracts its own mean interference
  (``persian-rug``: one direction per feature; ``pair-rug``: one direction per antipodal
  pair, features ``+h`` and ``-h``, whose pair variable has mean 0).

:func:`build_envelope` builds the mixture that :func:`toyforge.theory.predict` reports as
``structure``, with integer feature and neuron counts. Dense only: ``n_features <= 8192``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toyforge.constructions.models import ReluAutoencoder
from toyforge.core.budget import check_memory
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import as_rng, check_int, check_interval, check_probability, check_seed
from toyforge.theory import FAMILIES, family_optimum, pair_rug_optimum, predict, symmetric_optimum
from toyforge.theory.families import asymmetric_digon_optimum

__all__ = [
    "BUILDABLE",
    "MAX_DENSE_FEATURES",
    "Component",
    "EnvelopeBuild",
    "build_envelope",
    "build_family",
    "tight_frame",
]

MAX_DENSE_FEATURES = 8192
_PAIRED = ("pair-rug", "asymmetric-digon")
BUILDABLE = ("dropped", "dedicated", "persian-rug", "pair-rug", "asymmetric-digon", *FAMILIES)


@dataclass(frozen=True, kw_only=True, slots=True)
class Component:
    """One family inside a built model: its feature and neuron ranges and parameters."""

    family: str
    n_features: int
    n_hidden: int
    scale: float
    bias: float

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict."""
        return {
            "family": self.family,
            "n_features": self.n_features,
            "n_hidden": self.n_hidden,
            "scale": self.scale,
            "bias": self.bias,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class EnvelopeBuild:
    """The built mixture: the model, its components (in feature order), the envelope's
    prediction and ``planned_loss``: the large-N loss of the integer plan actually built
    (each component's theory loss at its own counts, weighted by its feature share)."""

    model: ReluAutoencoder
    components: tuple[Component, ...]
    predicted_loss: float
    planned_loss: float


def _sylvester_entries(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``H[rows][:, cols]`` of the Sylvester–Hadamard matrix: ``(-1)^popcount(r AND c)``."""
    bits = rows[:, None] & cols[None, :]
    parity = np.zeros(bits.shape, dtype=np.int64)
    while np.any(bits):
        parity ^= bits & 1
        bits = bits >> 1
    return 1.0 - 2.0 * parity


def tight_frame(n_directions: int, n_hidden: int, rng: np.random.Generator) -> np.ndarray:
    """``n_hidden x n_directions`` tight frame of unit columns (module docstring).

    A power-of-two ``n_directions`` gets random Sylvester–Hadamard rows divided by
    ``sqrt(n_hidden)`` (the Persian rug's frame); any other size a real harmonic frame:
    random distinct frequencies ``w`` in ``1 .. (n - 1) // 2``, rows
    ``sqrt(2/m) cos(2 pi w j / n)`` and ``sqrt(2/m) sin(...)``, plus the constant row
    ``1/sqrt(m)`` when ``m`` is odd. Either way every column has norm 1 and
    ``F F^T = (n/m) I`` (tight), so the off-diagonal squared row sums are ``n/m - 1``.
    """
    n, m = n_directions, n_hidden
    if m >= n:
        return np.eye(n)
    if n & (n - 1) == 0:
        rows = np.sort(rng.choice(n, size=m, replace=False)).astype(np.int64)
        return _sylvester_entries(rows, np.arange(n, dtype=np.int64)) / math.sqrt(m)
    freqs = np.sort(rng.choice(np.arange(1, (n - 1) // 2 + 1), size=m // 2, replace=False))
    angle = 2.0 * math.pi * np.outer(freqs, np.arange(n)) / n
    frame = math.sqrt(2.0 / m) * np.concatenate([np.cos(angle), np.sin(angle)], axis=0)
    if m % 2:
        frame = np.concatenate([np.full((1, n), 1.0 / math.sqrt(m)), frame], axis=0)
    return frame


def _rug_block(kind: str, n: int, m: int, p: float, rng: np.random.Generator):
    """(W_in (m, n), W_out (n, m), b (n,), scale, mean bias) of a rug component."""
    n_dir = n if kind == "persian-rug" else n // 2
    frame = tight_frame(n_dir, m, rng)
    frame_ratio = min(m, n_dir) / n_dir
    if kind == "persian-rug":
        opt = symmetric_optimum(frame_ratio, p)
        w_in = frame
    else:
        opt = pair_rug_optimum(frame_ratio / 2.0, p)
        w_in = np.repeat(frame, 2, axis=1) * np.tile([1.0, -1.0], n_dir)[None, :]
    w_in = np.concatenate([w_in, np.zeros((m - w_in.shape[0], n))]) if m > w_in.shape[0] else w_in
    scale, c = float(opt.scale), float(opt.bias / opt.scale) if opt.scale else 0.0
    w_out = scale * w_in.T
    loss = float(opt.loss)
    if kind == "pair-rug":  # pair variables x_a - x_b have mean 0: no mean interference
        return w_in, w_out, np.full(n, scale * c), scale, scale * c, loss
    gram = w_in.T @ w_in
    off_sum = gram.sum(axis=1) - np.diag(gram)
    b = scale * (c - (p / 2.0) * off_sum)  # subtract each output's mean interference
    return w_in, w_out, b, scale, float(np.mean(b)), loss


def _polytope_block(name: str, n_blocks: int, p: float):
    fam = FAMILIES[name]
    opt = family_optimum(name, p)
    scale, bias = float(opt.scale[0]), float(opt.bias[0])
    w_in = np.kron(np.eye(n_blocks), fam.vectors.T)  # (n_blocks d, n_blocks k)
    loss = float(opt.loss[0])
    return w_in, scale * w_in.T, np.full(n_blocks * fam.k, bias), scale, bias, loss


def _asymmetric_digon_block(n_pairs: int, p: float):
    """Pairs ``(+1, -lambda)`` on one neuron each; feature a reads ``s_a h + b_a``, feature b
    reads ``-(s_b / lambda) h + b_b`` (docs/solution_families.md#asymmetric-digons)."""
    opt = asymmetric_digon_optimum(p)
    lam = float(opt.asymmetry[0])
    w_in = np.kron(np.eye(n_pairs), np.array([[1.0, -lam]]))
    rows = np.array([[float(opt.scale_a[0])], [-float(opt.scale_b[0]) / lam]])
    w_out = np.kron(np.eye(n_pairs), rows)
    b = np.tile([float(opt.bias_a[0]), float(opt.bias_b[0])], n_pairs)
    return w_in, w_out, b, float(opt.scale_a[0]), float(opt.bias_a[0]), float(opt.loss[0])


def _component_block(name: str, n: int, m: int, p: float, rng: np.random.Generator):
    if name == "dropped":
        return (
            np.zeros((0, n)),
            np.zeros((n, 0)),
            np.full(n, p / 2.0),
            0.0,
            p / 2.0,
            p / 3 - p * p / 4,
        )
    if name == "dedicated":
        return np.eye(n), np.eye(n), np.zeros(n), 1.0, 0.0, 0.0
    if name in ("persian-rug", "pair-rug"):
        return _rug_block(name, n, m, p, rng)
    if name == "asymmetric-digon":
        return _asymmetric_digon_block(n // 2, p)
    return _polytope_block(name, n // FAMILIES[name].k, p)


def _assemble(parts: list[tuple[str, int, int]], p: float, seed: int | None) -> tuple:
    rng = as_rng(seed)
    n_total = sum(n for _, n, _ in parts)
    m_total = max(sum(m for _, _, m in parts), 1)
    check_memory("n_features", n_total, 8.0 * (2 * n_total * m_total + n_total * n_total))
    w_in = np.zeros((m_total, n_total))
    w_out = np.zeros((n_total, m_total))
    b = np.zeros(n_total)
    components = []
    planned = 0.0
    row = col = 0
    for name, n, m in parts:
        block_in, block_out, block_b, scale, bias, loss = _component_block(name, n, m, p, rng)
        planned += loss * n / n_total
        w_in[row : row + m, col : col + n] = block_in
        w_out[col : col + n, row : row + m] = block_out
        b[col : col + n] = block_b
        components.append(Component(family=name, n_features=n, n_hidden=m, scale=scale, bias=bias))
        row, col = row + m, col + n
    model = ReluAutoencoder(W_in=w_in, W_out=w_out, b=b)
    return model, tuple(components), planned


def _check_size(n_features: object) -> int:
    n = check_int("n_features", n_features, minimum=2)
    if n > MAX_DENSE_FEATURES:
        raise InvalidParameter(
            "n_features",
            n_features,
            f"2 <= n_features <= {MAX_DENSE_FEATURES} (dense weights; larger mixtures are not "
            "built yet: use 'build persian-rug' for a matrix-free rug)",
        )
    return n


def build_family(
    name: str,
    n_features: int,
    feature_prob: float,
    *,
    ratio: float | None = None,
    seed: int | None = 0,
) -> EnvelopeBuild:
    """A model made of one family only (every feature in it).

    Parameters
    ----------
    name : str
        One of :data:`BUILDABLE`.
    n_features : int
        ``2 <= n <= 8192``; a multiple of the block size ``k`` for polytopes (even for the
        pair rug).
    feature_prob : float
        ``p`` in (0, 1]: the scale and bias are optimal for it.
    ratio : float, optional
        Required for rugs: ``n_hidden = floor(ratio n)`` (pair rug: ``ratio <= 1/2``).
    seed : int or None
        Seed of the rug's Hadamard rows and columns.
    """
    if name not in BUILDABLE:
        raise InvalidParameter("family", name, "one of " + ", ".join(BUILDABLE))
    n = _check_size(n_features)
    p = check_probability("feature_prob", feature_prob)
    seed = check_seed("seed", seed)
    k = FAMILIES[name].k if name in FAMILIES else (2 if name in _PAIRED else 1)
    if n % k:
        raise InvalidParameter("n_features", n_features, f"a multiple of {k} for {name}")
    if name in ("persian-rug", "pair-rug"):
        limit = 0.5 if name == "pair-rug" else 1.0
        if ratio is None:
            raise InvalidParameter("ratio", ratio, f"a number in (0, {limit:g}] for {name}")
        r = check_interval("ratio", ratio, 0.0, limit, low_open=True)
        m = max(int(math.floor(r * n + 1e-9)), 1)
    elif name in FAMILIES:
        m = n // k * FAMILIES[name].d
    elif name == "asymmetric-digon":
        m = n // 2
    else:
        m = n if name == "dedicated" else 0
    model, components, planned = _assemble([(name, n, m)], p, seed)
    return EnvelopeBuild(
        model=model, components=components, predicted_loss=planned, planned_loss=planned
    )


def _plan(structure, n: int, m: int) -> list[tuple[str, int, int]]:
    """Integer (family, n_features, n_hidden) per component; sums to (n, <= m)."""
    parts: list[list] = []
    for comp in structure:
        if comp.family in FAMILIES:
            fam = FAMILIES[comp.family]
            blocks = min(int(round(comp.feature_share * n / fam.k)), m // fam.d)
            parts.append([comp.family, blocks * fam.k, blocks * fam.d])
        elif comp.family == "asymmetric-digon":
            pairs = min(int(round(comp.feature_share * n / 2)), m)
            parts.append(["asymmetric-digon", 2 * pairs, pairs])
        elif comp.family == "dedicated":
            count = int(round(comp.feature_share * n))
            parts.append(["dedicated", count, count])
        elif comp.family == "pair-rug":
            count = 2 * int(round(comp.feature_share * n / 2))
            parts.append(["pair-rug", count, None])
        elif comp.family == "persian-rug":
            parts.append(["persian-rug", int(round(comp.feature_share * n)), None])
        else:
            parts.append(["dropped", None, 0])
    fixed = sum(q[2] for q in parts if q[2] is not None)
    for q in parts:
        if q[2] is None:  # a rug takes the neurons left
            q[2] = max(m - fixed, 1)
            room = n - sum(r[1] for r in parts if r is not q and r[1] is not None)
            q[1] = min(q[1], room - (room % 2 if q[0] == "pair-rug" else 0))
    used = sum(q[1] for q in parts if q[1] is not None)
    dropped = [q for q in parts if q[0] == "dropped"]
    if dropped:
        dropped[0][1] = n - used
    elif used < n:
        parts.append(["dropped", n - used, 0])
    return [(name, int(count), int(hidden)) for name, count, hidden in parts if count > 0]


def build_envelope(
    n_features: int, ratio: float, feature_prob: float, seed: int | None = 0
) -> EnvelopeBuild:
    """Build the envelope's predicted mixture as a dense ReLU autoencoder.

    Parameters
    ----------
    n_features : int
        ``2 <= n <= 8192`` (larger sizes are refused: no matrix-free mixture yet).
    ratio : float
        ``n_hidden / n_features`` in (0, 1]; ``n_hidden = max(floor(ratio n), 1)`` and the
        prediction is made at ``n_hidden / n``.
    feature_prob : float
        ``p`` in (0, 1].
    seed : int or None
        Seed of the rug components' Hadamard rows and columns.

    Returns
    -------
    EnvelopeBuild
        The model (features grouped by component, in the order of ``components``), the
        components and the large-N ``envelope_loss`` at the effective ratio.
    """
    n = _check_size(n_features)
    r = check_interval("ratio", ratio, 0.0, 1.0, low_open=True)
    p = check_probability("feature_prob", feature_prob)
    seed = check_seed("seed", seed)
    m = max(int(math.floor(r * n + 1e-9)), 1)
    prediction = predict(m / n, p)
    parts = _plan(prediction.structure, n, m)
    model, components, planned = _assemble(parts, p, seed)
    return EnvelopeBuild(
        model=model,
        components=components,
        predicted_loss=prediction.envelope_loss,
        planned_loss=planned,
    )
