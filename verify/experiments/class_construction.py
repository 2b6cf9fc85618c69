"""Build the weights of a class allocation and measure their loss by Monte Carlo.

docs/non_uniform_features.md#building-the-allocation. An allocation of
:func:`toyforge.theory.feature_classes.allocate_classes` says, per feature class, which
solutions share its features (dropped, dedicated, polytope blocks, Persian or pair rugs) and
with which scale and bias. :func:`build_allocation` turns it into one dense ReLU autoencoder
for ``n`` features: every (class, solution) becomes a block built by
:func:`toyforge.constructions.families.build_family` with the class's ``p``, and the blocks
are placed block-diagonally (features ordered by class). :func:`construction_loss` estimates
the importance-weighted per-feature MSE of a model on the classes' data law by Monte Carlo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toyforge.constructions.families import MAX_DENSE_FEATURES, build_family
from toyforge.constructions.models import ReluAutoencoder
from toyforge.core.budget import check_memory
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_int
from toyforge.theory.families import FAMILIES
from toyforge.theory.feature_classes import ClassAllocation
from toyforge.verify.data.feature_sampler import FeatureDistribution
from toyforge.verify.evaluate.estimate import Estimate

__all__ = ["AllocationBuild", "build_allocation", "construction_loss"]


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class AllocationBuild:
    """The built model, the data law of its features (class probabilities and importances,
    features ordered by class), the blocks ``(class, family, n_features, n_hidden)`` and
    ``planned_loss``: the large-N loss of the integer plan actually built."""

    model: ReluAutoencoder
    distribution: FeatureDistribution
    blocks: tuple[tuple[int, str, int, int], ...]
    planned_loss: float


def _block_size(family: str) -> int:
    if family in FAMILIES:
        return FAMILIES[family].k
    return 2 if family in ("pair-rug", "asymmetric-digon") else 1


def _counts(allocation: ClassAllocation, n: int) -> list[list[tuple[str, int, float]]]:
    """Integer feature counts per (class, part): rounded, block multiples, remainder dropped."""
    sizes = [int(round(c.feature_class.fraction * n)) for c in allocation.classes]
    sizes[-1] = n - sum(sizes[:-1])
    plan = []
    for result, size in zip(allocation.classes, sizes, strict=True):
        parts, used = [], 0
        for part in result.parts:
            k = _block_size(part.family)
            count = min(int(round(part.feature_share * size / k)) * k, (size - used) // k * k)
            if count > 0 and part.family != "dropped":
                parts.append((part.family, count, part.dims))
                used += count
        if size - used > 0:
            parts.append(("dropped", size - used, 0.0))
        plan.append(parts)
    return plan


def _block(family: str, count: int, p: float, dims: float, seed: int | None) -> tuple:
    """``(model, large-N loss per feature)`` of one block; dropped and dedicated blocks are
    written directly (any count, zero or ``count`` neurons), the others by ``build_family``."""
    if family == "dropped":
        empty = np.zeros((0, count))
        model = ReluAutoencoder(W_in=empty, W_out=empty.T.copy(), b=np.full(count, p / 2))
        return model, p / 3 - p * p / 4
    if family == "dedicated":
        return ReluAutoencoder(W_in=np.eye(count), W_out=np.eye(count), b=np.zeros(count)), 0.0
    ratio = dims if family in ("persian-rug", "pair-rug") else None
    block = build_family(family, count, p, ratio=ratio, seed=seed)
    return block.model, block.planned_loss


def build_allocation(
    allocation: ClassAllocation, n_features: int, seed: int | None = 0
) -> AllocationBuild:
    """Dense weights realising ``allocation`` for ``n_features`` features (at most 8192)."""
    n = check_int("n_features", n_features, minimum=2)
    if n > MAX_DENSE_FEATURES:
        raise InvalidParameter("n_features", n, f"at most {MAX_DENSE_FEATURES} (dense weights)")
    plan = _counts(allocation, n)
    built, blocks, probs, weights, planned = [], [], [], [], 0.0
    for k, (result, parts) in enumerate(zip(allocation.classes, plan, strict=True)):
        c = result.feature_class
        for family, count, dims in parts:
            model, loss = _block(family, count, c.feature_prob, dims, seed)
            built.append(model)
            blocks.append((k, family, count, model.n_hidden))
            planned += c.importance * loss * count / n
            probs += [c.feature_prob] * count
            weights += [c.importance] * count
    m = sum(b.n_hidden for b in built)
    check_memory("n_features", n, 8.0 * (2 * n * max(m, 1) + n))
    w_in, w_out, bias = np.zeros((max(m, 1), n)), np.zeros((n, max(m, 1))), np.zeros(n)
    row = col = 0
    for model in built:
        h, f = model.n_hidden, model.n_features
        w_in[row : row + h, col : col + f] = model.W_in
        w_out[col : col + f, row : row + h] = model.W_out
        bias[col : col + f] = model.b
        row, col = row + h, col + f
    return AllocationBuild(
        model=ReluAutoencoder(W_in=w_in, W_out=w_out, b=bias),
        distribution=FeatureDistribution(
            feature_probs=np.array(probs), importance=np.array(weights)
        ),
        blocks=tuple(blocks),
        planned_loss=float(planned),
    )


def construction_loss(
    model: ReluAutoencoder,
    distribution: FeatureDistribution,
    n_samples: int,
    seed: int = 0,
    chunk: int = 512,
) -> Estimate:
    """Monte Carlo mean of ``sum_i I_i (y_i - x_i)^2 / n`` over ``n_samples`` samples (± SE)."""
    n_samples = check_int("n_samples", n_samples, minimum=2)
    rng = np.random.default_rng(seed)
    weights = distribution.importance / distribution.n_features
    losses = []
    for start in range(0, n_samples, chunk):
        x = distribution.sample(rng, min(chunk, n_samples - start)).to_dense()
        y = model.forward(x)
        losses.append(((y - x) ** 2) @ weights)
    return Estimate.from_samples(np.concatenate(losses))
