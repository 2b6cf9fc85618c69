"""Statistical and exactness checks for property tests of toy models (numpy only).

Each check returns a frozen :class:`CheckResult` ``(passed, statistic, threshold, message)``;
each ``assert_*`` variant raises :class:`AssertionError` with the message when the check fails
and returns the result otherwise:

* :func:`check_loss_at_most` / :func:`assert_loss_at_most`: a construction's loss is at most a
  baseline's loss plus ``n_se`` combined standard errors;
* :func:`check_exact_on_all_inputs` / :func:`assert_exact_on_all_inputs`: a modular-addition MLP
  is right on all p² pairs with a positive margin (exact enumeration), or a model reproduces a
  finite table of inputs exactly (lookup tables);
* :func:`check_theory_matches_monte_carlo` / :func:`assert_theory_matches_monte_carlo`: a
  theoretical value lies within ``n_se`` standard errors (plus a relative tolerance) of a Monte
  Carlo estimate.

Tolerances are stated in standard errors: with Gaussian errors a true statement fails a
two-sided ``n_se = 4`` check with probability 6e-5, ``n_se = 5`` with 6e-7 — choose ``n_se``
from the number of examples a test draws. The strategies that draw the settings are in
:mod:`toyforge.verify.testing.strategies`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from toyforge.constructions.models import ModularAdditionMLP
from toyforge.constructions.modular_addition import exactness
from toyforge.core.errors import InvalidParameter
from toyforge.core.validate import check_interval
from toyforge.verify.evaluate.estimate import Estimate
from toyforge.verify.testing.strategies import KeyValueTable

__all__ = [
    "CheckResult",
    "assert_exact_on_all_inputs",
    "assert_loss_at_most",
    "assert_theory_matches_monte_carlo",
    "check_exact_on_all_inputs",
    "check_loss_at_most",
    "check_theory_matches_monte_carlo",
]


# --------------------------------------------------------------------------- check results


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckResult:
    """Outcome of a property check.

    Attributes
    ----------
    passed : bool
    statistic : float
        What was measured (each check's docstring says what, and how it is compared).
    threshold : float
        What it was compared with.
    message : str
        One human-readable sentence with the numbers, for passing and failing checks alike.

    ``bool(result)`` is ``result.passed``; :meth:`raise_if_failed` raises AssertionError.
    """

    passed: bool
    statistic: float
    threshold: float
    message: str

    def __bool__(self) -> bool:
        return bool(self.passed)

    def raise_if_failed(self) -> CheckResult:
        """Raise :class:`AssertionError` with :attr:`message` unless the check passed."""
        if not self.passed:
            raise AssertionError(self.message)
        return self


def _as_estimate(name: str, value: Any) -> Estimate:
    """An Estimate from an Estimate, a result with an ``estimate`` property or with ``loss``,
    ``stderr`` and ``n_samples`` attributes, or an exact number."""
    if isinstance(value, Estimate):
        return value
    nested = getattr(value, "estimate", None)
    if isinstance(nested, Estimate):
        return nested
    if all(hasattr(value, name) for name in ("loss", "stderr", "n_samples")):
        # e.g. toyforge.verify.compare.persian_rug.TrainedPoint
        return Estimate(
            value=float(value.loss), stderr=float(value.stderr), n_samples=int(value.n_samples)
        )
    if np.ndim(value) == 0 and np.asarray(value).dtype.kind in "iuf":
        number = float(np.asarray(value))
        if not math.isfinite(number):
            raise InvalidParameter(name, value, "a finite number or an Estimate")
        return Estimate(value=number, stderr=0.0, n_samples=1, exact=True)
    raise InvalidParameter(
        name,
        type(value).__name__,
        "an Estimate, a result with an "
        "'estimate' property or loss/stderr/n_samples, or a real number",
    )


def _check_tolerances(n_se: float, rel_tol: float) -> tuple[float, float]:
    return (
        check_interval("n_se", n_se, 0.0, math.inf),
        check_interval("rel_tol", rel_tol, 0.0, math.inf),
    )


def _describe(estimate: Estimate) -> str:
    return f"{estimate.value:.6g} (exact)" if estimate.exact else str(estimate)


def _allowance(n_se: float, stderr: float, rel_tol: float, reference: float, what: str) -> str:
    text = f"{n_se:g} × combined SE {stderr:.3g}"
    if rel_tol:
        text += f" + rel_tol {rel_tol:g} × |{what}| {abs(reference):.6g}"
    return text


# --------------------------------------------------------------------------- loss comparison


def check_loss_at_most(
    construction_estimate: Any, baseline_estimate: Any, *, n_se: float = 3.0, rel_tol: float = 0.0
) -> CheckResult:
    """Is a construction's loss at most a baseline's loss, up to ``n_se`` combined SE?

    Passes iff ``construction − baseline <= n_se · sqrt(SE_c² + SE_b²) + rel_tol · |baseline|``
    (statistic: the difference; threshold: the right-hand side). The combined SE treats the
    two estimates as independent; estimates on the same samples are positively correlated,
    which makes the check conservative (harder to fail).

    Parameters
    ----------
    construction_estimate, baseline_estimate : Estimate, result, or float
        E.g. :func:`toyforge.verify.evaluate.evaluators.evaluate` of a construction and of a trained
        model (``TrainResult.final_eval``, or a ``TrainedPoint`` of
        :func:`toyforge.verify.compare.persian_rug.train_autoencoder`); results with an ``estimate``
        property or ``loss``/``stderr``/``n_samples`` attributes are accepted; a plain number
        counts as exact.
    n_se : float >= 0
    rel_tol : float >= 0
        Extra allowance relative to the baseline (known systematic effects).
    """
    construction = _as_estimate("construction_estimate", construction_estimate)
    baseline = _as_estimate("baseline_estimate", baseline_estimate)
    n_se, rel_tol = _check_tolerances(n_se, rel_tol)
    stderr = math.hypot(construction.stderr, baseline.stderr)
    difference = construction.value - baseline.value
    threshold = n_se * stderr + rel_tol * abs(baseline.value)
    passed = difference <= threshold
    in_se = f" ({difference / stderr:+.2f} SE)" if stderr > 0 else ""
    message = (
        f"construction loss {_describe(construction)} "
        f"{'is at most' if passed else 'exceeds'} baseline loss {_describe(baseline)}: "
        f"difference {difference:.4g}{in_se} {'<=' if passed else '>'} allowed "
        f"{threshold:.4g} = {_allowance(n_se, stderr, rel_tol, baseline.value, 'baseline')}"
    )
    return CheckResult(passed=passed, statistic=difference, threshold=threshold, message=message)


def assert_loss_at_most(
    construction_estimate: Any, baseline_estimate: Any, *, n_se: float = 3.0, rel_tol: float = 0.0
) -> CheckResult:
    """:func:`check_loss_at_most`, raising AssertionError with its message when it fails."""
    return check_loss_at_most(
        construction_estimate, baseline_estimate, n_se=n_se, rel_tol=rel_tol
    ).raise_if_failed()


# --------------------------------------------------------------------------- theory vs MC


def check_theory_matches_monte_carlo(
    theory_value: Any, estimate: Any, *, n_se: float = 4.0, rel_tol: float = 0.0
) -> CheckResult:
    """Is a theoretical value within ``n_se`` standard errors of a Monte Carlo estimate?

    Passes iff ``|estimate − theory| <= n_se · SE + rel_tol · |theory|`` (statistic: the
    absolute difference; threshold: the right-hand side). ``SE`` is the estimate's standard
    error, combined with the theory's if ``theory_value`` is itself an Estimate (e.g. a
    numerically integrated or finite-N theory). Use ``rel_tol`` only for a known, bounded
    systematic gap (e.g. large-N theory against a finite model) and say so in the test.

    Parameters
    ----------
    theory_value : float, 0-d array or Estimate
        E.g. ``toyforge.theory.predict(ratio, feature_prob).symmetric_loss``.
    estimate : Estimate or result with ``.estimate``
    n_se, rel_tol : float >= 0
    """
    theory = _as_estimate("theory_value", theory_value)
    measured = _as_estimate("estimate", estimate)
    n_se, rel_tol = _check_tolerances(n_se, rel_tol)
    stderr = math.hypot(theory.stderr, measured.stderr)
    difference = measured.value - theory.value
    threshold = n_se * stderr + rel_tol * abs(theory.value)
    passed = abs(difference) <= threshold
    in_se = f" ({difference / stderr:+.2f} SE)" if stderr > 0 else ""
    message = (
        f"Monte Carlo {_describe(measured)} {'matches' if passed else 'does not match'} "
        f"theory {_describe(theory)}: |difference| {abs(difference):.4g}{in_se} "
        f"{'<=' if passed else '>'} allowed {threshold:.4g} = "
        f"{_allowance(n_se, stderr, rel_tol, theory.value, 'theory')}"
    )
    return CheckResult(
        passed=passed, statistic=abs(difference), threshold=threshold, message=message
    )


def assert_theory_matches_monte_carlo(
    theory_value: Any, estimate: Any, *, n_se: float = 4.0, rel_tol: float = 0.0
) -> CheckResult:
    """:func:`check_theory_matches_monte_carlo`, raising AssertionError when it fails."""
    return check_theory_matches_monte_carlo(
        theory_value, estimate, n_se=n_se, rel_tol=rel_tol
    ).raise_if_failed()


# --------------------------------------------------------------------------- exactness


def check_exact_on_all_inputs(
    model: Any,
    inputs: Any = None,
    targets: Any = None,
    *,
    labels: Any = None,
    min_margin: float = 0.0,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> CheckResult:
    """Is ``model`` exact on every input of a finite task?

    Three cases:

    * :class:`~toyforge.constructions.models.ModularAdditionMLP` (no ``inputs``): every one of
      the p² ordered pairs is enumerated in float64
      (:func:`toyforge.constructions.modular_addition.exactness`). Passes iff accuracy is 1
      and the margin (min over pairs of correct logit − best wrong logit) exceeds
      ``min_margin`` (statistic: the margin; threshold: ``min_margin``; spec
      docs/modular_addition.md#margins-and-exactness).
    * ``labels`` (int array, shape (n_inputs,)): ``model.forward(inputs)`` gives scores of shape
      (n_inputs, n_classes); passes iff on every input the labelled score beats every other by
      more than ``min_margin`` (statistic: the smallest such margin; threshold:
      ``min_margin``).
    * ``targets`` (shape (n_inputs,) or (n_inputs, n_outputs)), or ``inputs`` a
      :class:`KeyValueTable` (keys as inputs, values as targets): passes iff
      ``max |forward(inputs) − targets| <= atol + rtol · max |targets|`` (statistic: the
      largest error; threshold: the right-hand side). A lookup table
      (:func:`toyforge.constructions.dictionary.lookup_table`, docs/memorisation.md#lookup-table)
      reproduces its values up to rounding.

    Parameters
    ----------
    model : ModularAdditionMLP, or any model with ``forward(x)``
    inputs : array, shape (n_inputs, n_features), or KeyValueTable
    targets : array, optional
    labels : int array, optional
    min_margin : float >= 0
    rtol, atol : float >= 0
    """
    min_margin = check_interval("min_margin", min_margin, 0.0, math.inf)
    rtol = check_interval("rtol", rtol, 0.0, math.inf)
    atol = check_interval("atol", atol, 0.0, math.inf)
    if isinstance(model, ModularAdditionMLP):
        if inputs is not None or targets is not None or labels is not None:
            raise InvalidParameter(
                "inputs",
                "given",
                "nothing for a modular-addition model (all p² pairs are enumerated)",
            )
        return _modular_exactness(model, min_margin)
    if not callable(getattr(model, "forward", None)):
        raise InvalidParameter(
            "model", type(model).__name__, "a ModularAdditionMLP or a model with forward(x)"
        )
    if isinstance(inputs, KeyValueTable):
        if targets is not None or labels is not None:
            raise InvalidParameter("targets", "given", "nothing when inputs is a KeyValueTable")
        inputs, targets = inputs.keys, inputs.values
    if inputs is None or (targets is None) == (labels is None):
        raise InvalidParameter(
            "inputs/targets/labels",
            "missing or both",
            "inputs with exactly one of targets or labels",
        )
    input_array = np.asarray(inputs, dtype=np.float64)
    if input_array.ndim != 2 or input_array.shape[0] < 1:
        raise InvalidParameter("inputs", input_array.shape, "shape (n_inputs >= 1, n_features)")
    outputs = np.asarray(model.forward(input_array), dtype=np.float64)
    if labels is not None:
        return _label_exactness(outputs, labels, min_margin)
    return _target_exactness(outputs, targets, rtol, atol)


def _modular_exactness(model: ModularAdditionMLP, min_margin: float) -> CheckResult:
    report = exactness(model)
    passed = report.n_wrong == 0 and report.margin > min_margin
    message = (
        f"modular addition mod {report.modulus} ({model.activation}, {model.n_hidden} "
        f"neurons): {report.n_wrong} of {report.n_pairs} pairs wrong, margin "
        f"{report.margin:.4g} {'>' if report.margin > min_margin else '<='} "
        f"{min_margin:g} (relative to max |logit| {report.max_abs_logit:.4g}: "
        f"{report.relative_margin:.3g}); {'exact' if passed else 'NOT exact'} on all pairs"
    )
    return CheckResult(
        passed=passed, statistic=report.margin, threshold=min_margin, message=message
    )


def _label_exactness(outputs: np.ndarray, labels: Any, min_margin: float) -> CheckResult:
    label_array = np.asarray(labels)
    if (
        outputs.ndim != 2
        or outputs.shape[1] < 2
        or label_array.dtype.kind not in "iu"
        or label_array.shape != (outputs.shape[0],)
    ):
        raise InvalidParameter(
            "labels",
            label_array.shape,
            f"integer labels of shape "
            f"({outputs.shape[0]},) for scores of shape (n_inputs, "
            f"n_classes >= 2); the model gives {outputs.shape}",
        )
    if label_array.min() < 0 or label_array.max() >= outputs.shape[1]:
        raise InvalidParameter("labels", "out of range", f"classes in [0, {outputs.shape[1]})")
    rows = np.arange(outputs.shape[0])
    correct = outputs[rows, label_array].copy()
    others = outputs.copy()
    others[rows, label_array] = -np.inf
    margins = correct - others.max(axis=1)
    worst = int(np.argmin(margins))
    n_wrong = int(np.count_nonzero(margins <= 0))
    passed = bool(margins[worst] > min_margin)
    message = (
        f"{n_wrong} of {len(margins)} inputs misclassified, smallest margin "
        f"{margins[worst]:.4g} {'>' if passed else '<='} {min_margin:g} (input {worst}, "
        f"label {int(label_array[worst])}); {'exact' if passed else 'NOT exact'}"
    )
    return CheckResult(
        passed=passed, statistic=float(margins[worst]), threshold=min_margin, message=message
    )


def _target_exactness(outputs: np.ndarray, targets: Any, rtol: float, atol: float) -> CheckResult:
    target_array = np.asarray(targets, dtype=np.float64)
    if target_array.ndim == 1 and outputs.ndim == 2 and outputs.shape[1] == 1:
        target_array = target_array[:, None]
    if target_array.shape != outputs.shape:
        raise InvalidParameter(
            "targets", target_array.shape, f"the model's output shape {outputs.shape}"
        )
    errors = np.abs(outputs - target_array).reshape(len(outputs), -1).max(axis=1)
    worst = int(np.argmax(errors))
    threshold = atol + rtol * float(np.max(np.abs(target_array), initial=0.0))
    passed = bool(errors[worst] <= threshold)
    n_off = int(np.count_nonzero(errors > threshold))
    message = (
        f"{n_off} of {len(errors)} inputs off: largest error {errors[worst]:.4g} "
        f"(input {worst}) {'<=' if passed else '>'} allowed {threshold:.4g} = atol "
        f"{atol:g} + rtol {rtol:g} × max|target|; {'exact' if passed else 'NOT exact'}"
    )
    return CheckResult(
        passed=passed, statistic=float(errors[worst]), threshold=threshold, message=message
    )


def assert_exact_on_all_inputs(
    model: Any,
    inputs: Any = None,
    targets: Any = None,
    *,
    labels: Any = None,
    min_margin: float = 0.0,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> CheckResult:
    """:func:`check_exact_on_all_inputs`, raising AssertionError when it fails."""
    return check_exact_on_all_inputs(
        model, inputs, targets, labels=labels, min_margin=min_margin, rtol=rtol, atol=atol
    ).raise_if_failed()
