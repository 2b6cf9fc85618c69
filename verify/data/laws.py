"""Per-feature laws: firing probabilities, importances and active-value (magnitude) laws.

A *law* turns a feature count ``n`` into one value per feature (feature ``i = 0 .. n-1``, at
position ``t_i = i / (n - 1)``, ``t = 0`` for a single feature). The text forms read like the
maths and are what the CLI flags take (``docs/non_uniform_features.md#laws-as-text``):

=======================  ===============================================================
``0.05``, ``constant:c``  every feature ``c``
``zipf:a:max``            ``max * (i + 1)^(-a)`` (Zipf's law over the feature rank)
``zipf:a:max:min``        ``max * (1 + t_i ((max/min)^(1/a) - 1))^(-a)``: a power law of
                          exponent ``a`` that falls from ``max`` (first feature) to ``min``
                          (last feature) exactly (Zipf–Mandelbrot with its offset fixed by
                          the range)
``linear:a:b``            ``a + (b - a) t_i``
``geometric:g``           ``g^i`` (the importance ``0.9^i`` of Elhage et al. 2022)
``file:path.npy``         one value per feature, read with ``np.load(allow_pickle=False)``
=======================  ===============================================================

Probabilities must lie in (0, 1] and importances must be finite and >= 0; a law that leaves
its range raises :class:`toyforge.core.errors.InvalidParameter` when its values are made,
before anything is sampled.

Magnitude laws (the value of an active feature): ``uniform`` (U[0, 1), the TMS / Persian-rug
data), ``constant`` (1) and ``exponential:mean`` (Exp with the given mean).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_choice, check_int, check_interval, check_real

__all__ = [
    "LAW_KINDS",
    "MAGNITUDE_KINDS",
    "FeatureLaw",
    "MagnitudeLaw",
    "parse_law",
    "parse_magnitudes",
]

LAW_KINDS = ("constant", "zipf", "linear", "geometric", "array")
MAGNITUDE_KINDS = ("uniform", "constant", "exponential")
ROLES = ("probability", "importance")
_ARITY = {"constant": (1,), "zipf": (2, 3), "linear": (2,), "geometric": (1,)}


def _positions(n_features: int) -> np.ndarray:
    if n_features == 1:
        return np.zeros(1)
    return np.arange(n_features, dtype=float) / (n_features - 1)


@dataclass(frozen=True, kw_only=True, slots=True)
class FeatureLaw:
    """One value per feature, drawn from a named law (see the module docstring).

    Parameters
    ----------
    kind : {"constant", "zipf", "linear", "geometric", "array"}
    params : tuple of float
        The law's numbers in the order of its text form; for ``array`` the values themselves.
    role : {"probability", "importance"}
        What the values are: probabilities must lie in (0, 1], importances in [0, inf).
    name : str
        The parameter's name as the user typed it (``--feature-probs``), used in errors.
    """

    kind: str
    params: tuple[float, ...]
    role: str = "probability"
    name: str = "feature_probs"

    def __post_init__(self) -> None:
        check_choice("role", self.role, ROLES)
        check_choice(self.name, self.kind, LAW_KINDS)
        params = tuple(check_real(self.name, float(v)) for v in self.params)
        object.__setattr__(self, "params", params)
        if self.kind != "array" and len(params) not in _ARITY[self.kind]:
            counts = " or ".join(str(k) for k in _ARITY[self.kind])
            raise InvalidParameter(self.name, params, f"{counts} numbers for a {self.kind} law")
        if self.kind == "array" and not params:
            raise InvalidParameter(self.name, params, "at least one value")
        if self.kind == "zipf":
            check_interval(f"{self.name} (zipf exponent)", params[0], 0.0, math.inf, low_open=True)
            if len(params) == 3 and not 0 < params[2] <= params[1]:
                raise InvalidParameter(self.name, params, "zipf:a:max:min with 0 < min <= max")
        if self.kind == "geometric":
            check_interval(f"{self.name} (geometric ratio)", params[0], 0.0, math.inf)
        if self.kind == "array" or self.kind == "constant":
            self._check_range(np.asarray(params))

    def _check_range(self, values: np.ndarray) -> np.ndarray:
        if self.role == "probability":
            bad = ~((values > 0) & (values <= 1))
            allowed = "probabilities in (0, 1]"
        else:
            bad = ~(np.isfinite(values) & (values >= 0))
            allowed = "finite importances >= 0"
        if np.any(bad):
            first = int(np.flatnonzero(bad)[0])
            raise InvalidParameter(
                self.name, f"{float(values[first]):g} at feature {first}", allowed
            )
        return values

    def values(self, n_features: int) -> np.ndarray:
        """The law's value for each of ``n_features`` features, float64 array of shape (n,)."""
        n = check_int("n_features", n_features, minimum=1)
        p, t = self.params, _positions(n)
        if self.kind == "constant":
            out = np.full(n, p[0])
        elif self.kind == "linear":
            out = p[0] + (p[1] - p[0]) * t
        elif self.kind == "geometric":
            out = p[0] ** np.arange(n, dtype=float)
        elif self.kind == "zipf" and len(p) == 2:
            out = p[1] * np.arange(1, n + 1, dtype=float) ** (-p[0])
        elif self.kind == "zipf":
            stretch = (p[1] / p[2]) ** (1.0 / p[0]) - 1.0
            out = p[1] * (1.0 + t * stretch) ** (-p[0])
        else:
            if len(p) != n:
                raise InvalidParameter(self.name, f"{len(p)} values", f"{n} (one per feature)")
            out = np.asarray(p, dtype=float)
        return self._check_range(out)

    def continuous(self, n_features: int) -> Callable[[np.ndarray], np.ndarray]:
        """The law as a function of the rank ``t = i / (n - 1)`` in [0, 1] (for the large-N
        theory, :func:`toyforge.theory.feature_classes.binned_allocation`): the formula of
        :meth:`values` with ``i`` continuous; an ``array`` law is a step function."""
        n = check_int("n_features", n_features, minimum=2)
        p = self.params
        if self.kind == "constant":
            return lambda t: np.full_like(np.asarray(t, float), p[0])
        if self.kind == "linear":
            return lambda t: p[0] + (p[1] - p[0]) * np.asarray(t, float)
        if self.kind == "geometric":
            return lambda t: p[0] ** (np.asarray(t, float) * (n - 1))
        if self.kind == "zipf":
            top = p[1]
            stretch = (n - 1.0) if len(p) == 2 else (p[1] / p[2]) ** (1.0 / p[0]) - 1.0
            return lambda t: top * (1.0 + np.asarray(t, float) * stretch) ** (-p[0])
        values = self.values(n)
        return lambda t: values[
            np.clip(np.rint(np.asarray(t, float) * (n - 1)), 0, n - 1).astype(int)
        ]

    def text(self) -> str:
        """The law in its text form (``array`` laws give ``array:<count> values``)."""
        if self.kind == "array":
            return f"array:{len(self.params)} values"
        return ":".join([self.kind, *(f"{v:g}" for v in self.params)])


def _load_array(path_text: str, name: str) -> tuple[float, ...]:
    path = Path(path_text)
    if path.suffix != ".npy":
        raise InvalidParameter(name, f"file:{path_text}", "file:<path>.npy (a numpy .npy file)")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InvalidParameter(
            name, f"file:{path_text}", f"a readable .npy file ({error})"
        ) from error
    if array.ndim != 1 or array.size == 0 or not np.issubdtype(array.dtype, np.number):
        raise InvalidParameter(name, f"file:{path_text}", "a non-empty 1-D numeric array")
    return tuple(float(v) for v in array)


def parse_law(text: str, *, role: str = "probability", name: str | None = None) -> FeatureLaw:
    """Parse a law from its text form (``zipf:1.2:0.4:5e-4``, ``geometric:0.9``, ``0.05``, ...).

    Parameters
    ----------
    text : str
        The law (see the module docstring).
    role : {"probability", "importance"}
    name : str, optional
        The parameter's name for error messages (default ``feature_probs`` / ``importance``).

    Returns
    -------
    FeatureLaw
    """
    name = name or ("feature_probs" if role == "probability" else "importance")
    if not isinstance(text, str) or not text.strip():
        raise InvalidParameter(name, text, "a law such as constant:0.05 or zipf:1.2:0.4:5e-4")
    kind, _, rest = text.strip().partition(":")
    if kind == "file":
        return FeatureLaw(kind="array", params=_load_array(rest, name), role=role, name=name)
    try:
        numbers = tuple(float(part) for part in (rest.split(":") if rest else [kind]))
    except ValueError as error:
        raise InvalidParameter(
            name, text, "a number, or numbers separated by ':' after the law"
        ) from error
    if not rest:
        return FeatureLaw(kind="constant", params=numbers, role=role, name=name)
    if kind not in _ARITY:
        raise InvalidParameter(name, text, "one of constant, zipf, linear, geometric, file")
    return FeatureLaw(kind=kind, params=numbers, role=role, name=name)


@dataclass(frozen=True, kw_only=True, slots=True)
class MagnitudeLaw:
    """The law of an active feature's value.

    Parameters
    ----------
    kind : {"uniform", "constant", "exponential"}
        U[0, 1), the constant 1, or exponential with mean ``mean``.
    mean : float
        Mean of the exponential law (> 0); ignored otherwise.
    """

    kind: str = "uniform"
    mean: float = 0.5

    def __post_init__(self) -> None:
        check_choice("magnitudes", self.kind, MAGNITUDE_KINDS)
        check_interval("magnitudes (exponential mean)", self.mean, 0.0, math.inf, low_open=True)

    def moments(self) -> tuple[float, float]:
        """``(E[u], E[u^2])`` of an active value ``u``."""
        if self.kind == "uniform":
            return 0.5, 1.0 / 3.0
        if self.kind == "constant":
            return 1.0, 1.0
        return self.mean, 2.0 * self.mean**2

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` active values (float64)."""
        if self.kind == "uniform":
            return rng.random(size)
        if self.kind == "constant":
            return np.ones(size)
        return rng.exponential(self.mean, size)


def parse_magnitudes(text: str, *, name: str = "magnitudes") -> MagnitudeLaw:
    """Parse ``uniform``, ``constant`` or ``exponential:mean``."""
    if not isinstance(text, str):
        raise InvalidParameter(name, text, "uniform, constant or exponential:MEAN")
    kind, _, rest = text.strip().partition(":")
    if kind == "exponential" and rest:
        try:
            mean = float(rest)
        except ValueError as error:
            raise InvalidParameter(name, text, "exponential:MEAN with a number") from error
        if not (math.isfinite(mean) and mean > 0):
            raise InvalidParameter(name, text, "exponential:MEAN with MEAN > 0")
        return MagnitudeLaw(kind="exponential", mean=mean)
    if kind not in ("uniform", "constant") or rest:
        raise InvalidParameter(name, text, "uniform, constant or exponential:MEAN")
    return MagnitudeLaw(kind=kind)
