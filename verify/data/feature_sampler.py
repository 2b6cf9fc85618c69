"""One seeded sampler for non-identical features: per-feature firing rates, magnitudes,
correlated and anticorrelated pairs, mutually exclusive groups (sparse CSR output).

A :class:`FeatureDistribution` says, for each of ``n`` features, its firing probability
``p_i`` (the marginal ``P(x_i != 0)``), its importance (a loss weight, carried for the trainer
and the theory, not used by the sampler) and one magnitude law for the values of active
features. Features can also be tied together:

* a **pair** ``(i, j, rho)``: the activity indicators ``B_i, B_j`` have Pearson correlation
  ``rho`` (``rho < 0``: anticorrelated), so ``P(B_i = B_j = 1) = p_i p_j + rho sqrt(p_i (1 - p_i)
  p_j (1 - p_j))``; that joint probability must lie within the Fréchet bounds
  ``[max(0, p_i + p_j - 1), min(p_i, p_j)]`` or the law is impossible;
* an **exclusive group** ``(i, j, k, ...)``: at most one member is active in a sample, member
  ``i`` with probability ``p_i`` (needs ``sum p_i <= 1``).

Values are independent of the activity pattern. Sampling (:meth:`FeatureDistribution.sample`)
costs O(nnz log nnz) plus O(log(p_max / p_min)) per batch: free features are bucketed into
dyadic probability bands ``(q/2, q]``, candidates are placed at rate ``q`` by geometric skipping
over the flattened ``batch x band`` grid and thinned with probability ``p_i / q >= 1/2``; each
pair or group is one draw at its "any member active" rate followed by a categorical choice.
:func:`sample_dense_reference` is the plain numpy reference (one uniform per feature and row).
See ``docs/non_uniform_features.md#the-sampler``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import as_rng, check_int, check_interval
from toyforge.verify.data.laws import FeatureLaw, MagnitudeLaw, parse_law
from toyforge.verify.data.sampling import SparseBatch

__all__ = [
    "CorrelatedPair",
    "FeatureDistribution",
    "bernoulli_positions",
    "sample_dense_reference",
]

_MAX_INT32 = np.iinfo(np.int32).max
_FRECHET_SLACK = 1e-12


@dataclass(frozen=True, kw_only=True, slots=True)
class CorrelatedPair:
    """Two features whose activity indicators have Pearson correlation ``correlation``."""

    first: int
    second: int
    correlation: float

    def __post_init__(self) -> None:
        check_int("pair feature", self.first, minimum=0)
        check_int("pair feature", self.second, minimum=0)
        if self.first == self.second:
            raise InvalidParameter("pairs", (self.first, self.second), "two different features")
        check_interval("pair correlation", self.correlation, -1.0, 1.0)

    def joint(self, p_first: float, p_second: float) -> float:
        """``P(both active)`` for the given marginals."""
        spread = np.sqrt(p_first * (1 - p_first) * p_second * (1 - p_second))
        return float(p_first * p_second + self.correlation * spread)


def bernoulli_positions(rng: np.random.Generator, total: int, rate: float) -> np.ndarray:
    """Sorted positions in ``[0, total)``, each included independently with probability ``rate``.

    Geometric skipping: the gaps between successive successes of a Bernoulli(rate) sequence are
    Geometric(rate) on {1, 2, ...}. Costs O(rate * total) draws.
    """
    if rate >= 1.0:
        return np.arange(total, dtype=np.int64)
    if total == 0 or rate <= 0.0:
        return np.zeros(0, dtype=np.int64)
    expected = rate * total
    chunk = int(expected + 5.0 * np.sqrt(expected) + 16)
    pieces, start = [], -1
    while True:
        positions = start + np.cumsum(rng.geometric(rate, size=chunk))
        pieces.append(positions)
        if positions[-1] >= total:
            break
        start = int(positions[-1])
    positions = np.concatenate(pieces)
    return positions[positions < total]


def _as_law(value: object, role: str, name: str) -> FeatureLaw:
    if isinstance(value, FeatureLaw):
        return value
    if isinstance(value, str):
        return parse_law(value, role=role, name=name)
    array = np.atleast_1d(np.asarray(value, dtype=float))
    return FeatureLaw(kind="array", params=tuple(array.tolist()), role=role, name=name)


@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class FeatureDistribution:
    """The law of a sparse feature vector (see the module docstring).

    Parameters
    ----------
    feature_probs : ndarray, shape (n_features,)
        Marginal firing probability of each feature, in (0, 1].
    importance : ndarray, shape (n_features,), optional
        Loss weight of each feature, finite and >= 0 (default: all ones).
    magnitudes : MagnitudeLaw
        Law of an active feature's value.
    pairs : tuple of CorrelatedPair
    exclusive_groups : tuple of tuple of int
        Each feature belongs to at most one pair or group.
    """

    feature_probs: np.ndarray
    importance: np.ndarray | None = None
    magnitudes: MagnitudeLaw = field(default_factory=MagnitudeLaw)
    pairs: tuple[CorrelatedPair, ...] = ()
    exclusive_groups: tuple[tuple[int, ...], ...] = ()

    def __post_init__(self) -> None:
        probs = FeatureLaw(kind="array", params=tuple(np.ravel(self.feature_probs)))
        probs_array = probs.values(len(probs.params))
        probs_array.flags.writeable = False
        object.__setattr__(self, "feature_probs", probs_array)
        n = probs_array.size
        if n > _MAX_INT32:
            raise InvalidParameter("n_features", n, f"at most {_MAX_INT32}")
        weights = np.ones(n) if self.importance is None else np.ravel(self.importance)
        law = FeatureLaw(kind="array", params=tuple(weights), role="importance", name="importance")
        weights = law.values(n)
        weights.flags.writeable = False
        object.__setattr__(self, "importance", weights)
        if not isinstance(self.magnitudes, MagnitudeLaw):
            raise InvalidParameter("magnitudes", self.magnitudes, "a MagnitudeLaw")
        object.__setattr__(self, "pairs", tuple(self.pairs))
        groups = tuple(tuple(int(i) for i in g) for g in self.exclusive_groups)
        object.__setattr__(self, "exclusive_groups", groups)
        self._check_structures()

    def _check_structures(self) -> None:
        n, p, seen = self.n_features, self.feature_probs, set()
        members = [(pair.first, pair.second) for pair in self.pairs] + list(self.exclusive_groups)
        for group in members:
            if len(group) < 2 or any(not 0 <= i < n for i in group):
                raise InvalidParameter("features", group, f"two or more features in [0, {n})")
            if seen.intersection(group) or len(set(group)) != len(group):
                raise InvalidParameter("features", group, "each feature in at most one pair/group")
            seen.update(group)
        for pair in self.pairs:
            pi, pj = p[pair.first], p[pair.second]
            joint, low, high = pair.joint(pi, pj), max(0.0, pi + pj - 1.0), min(pi, pj)
            if not low - _FRECHET_SLACK <= joint <= high + _FRECHET_SLACK:
                raise InvalidParameter(
                    "pair correlation",
                    pair.correlation,
                    f"a joint law: P(both)={joint:.4g} must lie in [{low:.4g}, {high:.4g}] "
                    f"for probabilities {pi:.4g}, {pj:.4g}",
                )
        for group in self.exclusive_groups:
            total = float(p[list(group)].sum())
            if total > 1.0 + _FRECHET_SLACK:
                raise InvalidParameter(
                    "exclusive group", group, f"probabilities summing to <= 1, got {total:.4g}"
                )

    @classmethod
    def from_laws(
        cls,
        n_features: int,
        feature_probs: object = "constant:0.05",
        importance: object = "constant:1",
        magnitudes: MagnitudeLaw | None = None,
        pairs: Sequence[CorrelatedPair] = (),
        exclusive_groups: Sequence[Sequence[int]] = (),
    ) -> FeatureDistribution:
        """Build from laws (text like ``zipf:1.2:0.4:5e-4``, a :class:`FeatureLaw`, or arrays)."""
        n = check_int("n_features", n_features, minimum=1)
        probs = _as_law(feature_probs, "probability", "feature_probs").values(n)
        weights = _as_law(importance, "importance", "importance").values(n)
        return cls(
            feature_probs=probs,
            importance=weights,
            magnitudes=magnitudes or MagnitudeLaw(),
            pairs=tuple(pairs),
            exclusive_groups=tuple(tuple(g) for g in exclusive_groups),
        )

    @property
    def n_features(self) -> int:
        """Number of features."""
        return int(self.feature_probs.size)

    def free_features(self) -> np.ndarray:
        """Features in no pair or group (int64 array, sorted)."""
        tied = [i for pair in self.pairs for i in (pair.first, pair.second)]
        tied += [i for group in self.exclusive_groups for i in group]
        mask = np.ones(self.n_features, dtype=bool)
        mask[tied] = False
        return np.flatnonzero(mask)

    def joint_active(self) -> np.ndarray:
        """``P(B_i = B_j = 1)`` for every pair of features, shape (n, n) (diagonal: ``p_i``)."""
        p = self.feature_probs
        joint = np.outer(p, p)
        np.fill_diagonal(joint, p)
        for pair in self.pairs:
            value = pair.joint(p[pair.first], p[pair.second])
            joint[pair.first, pair.second] = joint[pair.second, pair.first] = value
        for group in self.exclusive_groups:
            index = np.array(group)
            joint[np.ix_(index, index)] = np.diag(p[index])
        return joint

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """``(E[x_i], E[x_i^2])`` for every feature."""
        first, second = self.magnitudes.moments()
        return self.feature_probs * first, self.feature_probs * second

    def sample(
        self,
        rng: int | np.random.Generator | None,
        batch_size: int,
        dtype: object = np.float64,
    ) -> SparseBatch:
        """``batch_size`` samples as a CSR :class:`~toyforge.verify.data.sampling.SparseBatch`.

        Same signature as the trainer's fresh-data source
        (:class:`toyforge.verify.train.data.SparseFeatureData`); the same seed gives the same batch.
        """
        batch = check_int("batch_size", batch_size, minimum=1)
        resolved = np.dtype(dtype)  # type: ignore[call-overload]
        if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise InvalidParameter("dtype", dtype, "float32 or float64")
        generator = as_rng(rng)  # type: ignore[arg-type]
        rows, cols = self._free_entries(generator, batch)
        extra_rows, extra_cols = self._tied_entries(generator, batch)
        rows = np.concatenate([rows, *extra_rows])
        cols = np.concatenate([cols, *extra_cols])
        order = np.argsort(rows * self.n_features + cols, kind="stable")
        rows, cols = rows[order], cols[order]
        indptr = np.zeros(batch + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=batch), out=indptr[1:])
        values = self.magnitudes.draw(generator, cols.size).astype(resolved)
        indices = cols.astype(np.int32)
        return SparseBatch(
            indptr=indptr, indices=indices, values=values, n_features=self.n_features
        )

    def _free_entries(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
        free = self.free_features()
        rows, cols = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        if free.size == 0:
            return rows[0], cols[0]
        p = self.feature_probs[free]
        top = float(p.max())
        band = np.floor(np.log2(top / p)).astype(np.int64)
        band -= p > top * 2.0 ** (-band.astype(float))
        for level in np.unique(band):
            members = free[band == level]
            rate = top * 2.0 ** (-float(level))
            positions = bernoulli_positions(rng, batch * members.size, rate)
            local = positions % members.size
            member_probs = self.feature_probs[members]
            if not np.all(member_probs == rate):
                keep = rng.random(positions.size) * rate < member_probs[local]
                positions, local = positions[keep], local[keep]
            rows.append(positions // members.size)
            cols.append(members[local])
        return np.concatenate(rows), np.concatenate(cols)

    def _tied_entries(self, rng: np.random.Generator, batch: int) -> tuple[list, list]:
        p, rows, cols = self.feature_probs, [], []
        for pair in self.pairs:
            both = pair.joint(p[pair.first], p[pair.second])
            only = np.clip([p[pair.first] - both, p[pair.second] - both, both], 0.0, 1.0)
            hit = bernoulli_positions(rng, batch, float(only.sum()))
            state = np.searchsorted(np.cumsum(only), rng.random(hit.size) * only.sum(), "right")
            state = np.minimum(state, 2)
            first, second = hit[state != 1], hit[state != 0]
            rows += [first, second]
            cols += [np.full(first.size, pair.first), np.full(second.size, pair.second)]
        for group in self.exclusive_groups:
            members = np.array(group, dtype=np.int64)
            weights = p[members]
            hit = bernoulli_positions(rng, batch, float(min(weights.sum(), 1.0)))
            which = np.searchsorted(
                np.cumsum(weights), rng.random(hit.size) * weights.sum(), "right"
            )
            rows.append(hit)
            cols.append(members[np.minimum(which, members.size - 1)])
        return rows, cols

    def dense_sampler(self) -> Callable[[np.random.Generator, int], np.ndarray]:
        """``sample(rng, batch_size) -> dense float64 (batch, n)``: the trainer's
        :class:`toyforge.verify.train.data.GeneratedData` source."""

        def sample(rng: np.random.Generator, batch_size: int) -> np.ndarray:
            return self.sample(rng, batch_size).to_dense()

        return sample


def sample_dense_reference(
    distribution: FeatureDistribution, batch_size: int, rng: int | np.random.Generator | None
) -> np.ndarray:
    """Plain numpy reference sampler: a dense (batch_size, n) array with the same law.

    One uniform per (row, free feature) compared with ``p_i``; one uniform per row and pair
    (four outcomes) or group (one member or none). Not bit-identical to
    :meth:`FeatureDistribution.sample` (it spends the random stream differently).
    """
    generator = as_rng(rng)  # type: ignore[arg-type]
    batch = check_int("batch_size", batch_size, minimum=1)
    p = distribution.feature_probs
    active = generator.random((batch, p.size)) < p
    for pair in distribution.pairs:
        both = pair.joint(p[pair.first], p[pair.second])
        u = generator.random(batch)
        first_only = p[pair.first] - both
        second_only = p[pair.second] - both
        active[:, pair.first] = u < first_only + both
        active[:, pair.second] = (u >= first_only) & (u < first_only + both + second_only)
    for group in distribution.exclusive_groups:
        u = generator.random(batch)
        edges = np.concatenate([[0.0], np.cumsum(p[list(group)])])
        for k, feature in enumerate(group):
            active[:, feature] = (u >= edges[k]) & (u < edges[k + 1])
    values = distribution.magnitudes.draw(generator, batch * p.size).reshape(batch, p.size)
    return np.where(active, values, 0.0)
