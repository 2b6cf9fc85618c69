"""Monte Carlo estimates carry their standard error."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toyforge.core.errors import InvalidParameter


@dataclass(frozen=True, kw_only=True, slots=True)
class Estimate:
    """A Monte Carlo estimate: ``value ± stderr`` from ``n_samples`` independent samples.

    ``stderr`` is the sample standard deviation over ``sqrt(n_samples)``; it is 0 for exact
    results (``exact=True``, e.g. enumeration over every input).
    """

    value: float
    stderr: float
    n_samples: int
    exact: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise InvalidParameter("value", self.value, "a finite number")
        if not (self.stderr >= 0 and math.isfinite(self.stderr)):
            raise InvalidParameter("stderr", self.stderr, "a finite number >= 0")
        if self.n_samples < 1:
            raise InvalidParameter("n_samples", self.n_samples, "an integer >= 1")

    @classmethod
    def from_samples(cls, samples: np.ndarray) -> Estimate:
        """Mean and standard error of i.i.d. per-sample values (1-D array, length >= 2)."""
        values = np.asarray(samples, dtype=np.float64).ravel()
        if values.size < 2:
            raise InvalidParameter("samples", values.size, "at least 2 samples")
        return cls(
            value=float(values.mean()),
            stderr=float(values.std(ddof=1) / math.sqrt(values.size)),
            n_samples=int(values.size),
        )

    def z_score(self, reference: float) -> float:
        """``(value - reference) / stderr`` (inf when stderr is 0 and they differ)."""
        difference = self.value - reference
        if self.stderr == 0:
            return 0.0 if difference == 0 else math.copysign(math.inf, difference)
        return difference / self.stderr

    def __str__(self) -> str:
        return f"{self.value:.6g} ± {self.stderr:.2g} (n={self.n_samples})"
