"""Every architecture toyforge handles, as a frozen dataclass of numpy arrays.

A constructed, a trained and a loaded model are all instances of these classes: the shared
vocabulary of :mod:`toyforge.constructions`, :mod:`toyforge.verify` and :mod:`toyforge.figures`.
Each class

* validates shapes (and finiteness) in ``__post_init__`` and raises
  :class:`toyforge.core.errors.IncompatibleWeights` naming the array and the shapes,
* has a plain-numpy ``forward`` (the reference every fast kernel is compared with),
* reports ``n_parameters``,
* converts to and from named arrays (``to_arrays`` / ``from_arrays``) plus a JSON-able
  ``hyperparameters()`` mapping; :mod:`toyforge.constructions.io` stores exactly these.

Arrays are not copied; treat them as read-only. Array names follow the papers: ``W_in``,
``W_out``, ``b`` for the ReLU autoencoder of Elhage et al. (2022) and Cowsik et al. (2024,
arXiv:2410.12101); ``W_in``, ``W_out`` (and the factored ``embedding``/``projection``) for the
modular-addition MLP of the PAIR grokking explorable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, TypeVar

import numpy as np

from toyforge.core.errors import IncompatibleWeights, InvalidParameter

__all__ = [
    "ARCHITECTURES",
    "MLP",
    "Model",
    "ModularAdditionMLP",
    "ReluAutoencoder",
    "register_architecture",
]

HIDDEN_ACTIVATIONS = ("relu", "identity", "quadratic")
PAIR_ACTIVATIONS = ("relu", "quadratic")


class Model(Protocol):
    """What every architecture provides (used by io, verify and figures)."""

    architecture: ClassVar[str]

    @property
    def n_parameters(self) -> int: ...

    def to_arrays(self) -> dict[str, np.ndarray]: ...

    def hyperparameters(self) -> dict[str, Any]: ...

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], hyperparameters: Mapping[str, Any] | None = None
    ) -> Self: ...


ARCHITECTURES: dict[str, type] = {}

ModelT = TypeVar("ModelT", bound=type)


def register_architecture(cls: ModelT) -> ModelT:
    """Class decorator: make ``cls`` loadable by its ``architecture`` name."""
    name = cls.architecture  # type: ignore[attr-defined]
    if name in ARCHITECTURES and ARCHITECTURES[name] is not cls:
        raise RuntimeError(f"architecture {name!r} registered twice")
    ARCHITECTURES[name] = cls
    return cls


# --------------------------------------------------------------------------- array helpers


def as_weight_array(name: str, value: Any, ndim: int) -> np.ndarray:
    """``value`` as a finite floating array with ``ndim`` dimensions, or IncompatibleWeights."""
    array = np.asarray(value)
    if array.dtype.kind in "iub":
        array = array.astype(np.float64)
    if array.dtype.kind != "f":
        raise IncompatibleWeights(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim != ndim:
        raise IncompatibleWeights(f"{name} must be {ndim}-D, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise IncompatibleWeights(f"{name} contains NaN or infinite entries")
    return array


def require_shape(name: str, array: np.ndarray, expected: tuple[int, ...], meaning: str) -> None:
    """Raise IncompatibleWeights unless ``array.shape == expected``."""
    if array.shape != expected:
        raise IncompatibleWeights(
            f"{name} has shape {array.shape}, expected {expected} ({meaning})"
        )


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def _relu(values: np.ndarray) -> np.ndarray:
    return np.maximum(values, 0.0)


def apply_activation(name: str, values: np.ndarray) -> np.ndarray:
    """Elementwise hidden activation: ``relu``, ``identity`` or ``quadratic`` (x**2)."""
    if name == "relu":
        return _relu(values)
    if name == "quadratic":
        return values * values
    if name == "identity":
        return values
    raise InvalidParameter("activation", name, "one of 'relu', 'identity', 'quadratic'")


def _as_batch(name: str, x: Any, width: int) -> tuple[np.ndarray, bool]:
    array = np.asarray(x, dtype=np.result_type(np.asarray(x).dtype, np.float32))
    single = array.ndim == 1
    if single:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != width:
        raise IncompatibleWeights(
            f"{name} must have shape (batch, {width}) or ({width},), got {np.shape(x)}"
        )
    return array, single


class _ArraysMixin:
    """``to_arrays``/``from_arrays``/``n_parameters`` from the dataclass fields."""

    _array_fields: ClassVar[tuple[str, ...]]
    _hyper_fields: ClassVar[tuple[str, ...]]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The model's arrays by name (optional arrays that are None are left out)."""
        return {
            name: getattr(self, name)
            for name in self._array_fields
            if getattr(self, name) is not None
        }

    def hyperparameters(self) -> dict[str, Any]:
        """The model's non-array settings, as JSON-able values."""
        return {name: getattr(self, name) for name in self._hyper_fields}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], hyperparameters: Mapping[str, Any] | None = None
    ) -> Any:
        """Rebuild the model from ``to_arrays()`` and ``hyperparameters()`` output."""
        unknown = sorted(set(arrays) - set(cls._array_fields))
        if unknown:
            raise IncompatibleWeights(
                f"{cls.architecture} has no arrays named {unknown}; "  # type: ignore[attr-defined]
                f"expected {list(cls._array_fields)}"
            )
        hyper = dict(hyperparameters or {})
        unknown_hyper = sorted(set(hyper) - set(cls._hyper_fields))
        if unknown_hyper:
            raise IncompatibleWeights(
                f"unknown hyperparameters {unknown_hyper} for {cls.architecture}"
            )  # type: ignore[attr-defined]
        return cls(**dict(arrays), **hyper)

    @property
    def n_parameters(self) -> int:
        """Number of stored scalars (tied or fixed arrays counted once; fixed ones excluded)."""
        return int(sum(getattr(self, name).size for name in self._trainable_fields()))

    def _trainable_fields(self) -> tuple[str, ...]:
        return tuple(name for name in self._array_fields if getattr(self, name) is not None)


# --------------------------------------------------------------------------- ReLU autoencoder


@register_architecture
@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class ReluAutoencoder(_ArraysMixin):
    """The ReLU-output autoencoder ``y = ReLU(W_out W_in x + b)``.

    The toy model of superposition (Elhage et al. 2022) with untied weights, as studied in the
    Persian-rug paper (Cowsik, Dolev, Infanger 2024, arXiv:2410.12101 §1).

    Parameters
    ----------
    W_in : ndarray, shape (n_hidden, n_features)
        Encoder, no bias.
    W_out : ndarray, shape (n_features, n_hidden)
        Decoder.
    b : ndarray, shape (n_features,)
        Output bias.
    tied : bool
        If True, ``W_out`` must equal ``W_in.T`` (the trainer keeps them tied).
    """

    W_in: np.ndarray
    W_out: np.ndarray
    b: np.ndarray
    tied: bool = False

    architecture: ClassVar[str] = "relu-autoencoder"
    _array_fields: ClassVar[tuple[str, ...]] = ("W_in", "W_out", "b")
    _hyper_fields: ClassVar[tuple[str, ...]] = ("tied",)

    def __post_init__(self) -> None:
        _set(self, "W_in", as_weight_array("W_in", self.W_in, 2))
        _set(self, "W_out", as_weight_array("W_out", self.W_out, 2))
        _set(self, "b", as_weight_array("b", self.b, 1))
        n_hidden, n_features = self.W_in.shape
        require_shape(
            "W_out",
            self.W_out,
            (n_features, n_hidden),
            "n_features x n_hidden, from W_in's n_hidden x n_features",
        )
        require_shape("b", self.b, (n_features,), "n_features")
        if self.tied and not np.array_equal(self.W_out, self.W_in.T):
            raise IncompatibleWeights("tied=True but W_out is not W_in.T")

    @classmethod
    def tied_from(cls, W_in: np.ndarray, b: np.ndarray) -> ReluAutoencoder:
        """A tied model ``y = ReLU(W_inᵀ W_in x + b)``."""
        W_in = as_weight_array("W_in", W_in, 2)
        return cls(W_in=W_in, W_out=W_in.T, b=b, tied=True)

    @property
    def n_features(self) -> int:
        """Input and output width."""
        return int(self.W_in.shape[1])

    @property
    def n_hidden(self) -> int:
        """Bottleneck width."""
        return int(self.W_in.shape[0])

    @property
    def ratio(self) -> float:
        """``n_hidden / n_features`` (the theory's r)."""
        return self.n_hidden / self.n_features

    @property
    def n_parameters(self) -> int:
        """Trainable scalars; a tied model counts its shared matrix once."""
        matrices = self.W_in.size if self.tied else self.W_in.size + self.W_out.size
        return int(matrices + self.b.size)

    def effective_matrix(self) -> np.ndarray:
        """``W = W_out W_in``, shape (n_features, n_features)."""
        return self.W_out @ self.W_in

    def pre_activation(self, x: Any) -> np.ndarray:
        """``W_out W_in x + b`` for x of shape (batch, n_features) or (n_features,)."""
        batch, single = _as_batch("x", x, self.n_features)
        values = (batch @ self.W_in.T) @ self.W_out.T + self.b
        return values[0] if single else values

    def forward(self, x: Any) -> np.ndarray:
        """``ReLU(W_out W_in x + b)``, same leading shape as ``x``."""
        return _relu(self.pre_activation(x))


# --------------------------------------------------------------------------- generic MLP


@register_architecture
@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class MLP(_ArraysMixin):
    """A one-hidden-layer MLP ``x -> act(W1 E x + b1) -> W2 h + b2`` (optionally ReLU'd).

    Covers the memorisation settings of Hobbhahn's "toy models of memorisation" (bottleneck,
    MLP block with a fixed random embedding ``E``, final layer) and lookup-table constructions.

    Parameters
    ----------
    W1 : ndarray, shape (n_hidden, n_inputs)
    b1 : ndarray, shape (n_hidden,)
    W2 : ndarray, shape (n_outputs, n_hidden)
    b2 : ndarray, shape (n_outputs,)
    activation : {"relu", "identity", "quadratic"}
        Hidden activation.
    output_relu : bool
        Apply a ReLU to the output.
    embedding : ndarray, shape (n_inputs, n_features), optional
        A fixed (not trained) input embedding ``E``; the model then takes x of width
        n_features. Without it, n_features = n_inputs.
    """

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    activation: str = "relu"
    output_relu: bool = False
    embedding: np.ndarray | None = None

    architecture: ClassVar[str] = "mlp"
    _array_fields: ClassVar[tuple[str, ...]] = ("W1", "b1", "W2", "b2", "embedding")
    _hyper_fields: ClassVar[tuple[str, ...]] = ("activation", "output_relu")

    def __post_init__(self) -> None:
        if self.activation not in HIDDEN_ACTIVATIONS:
            raise InvalidParameter(
                "activation", self.activation, "one of " + ", ".join(HIDDEN_ACTIVATIONS)
            )
        for name, ndim in (("W1", 2), ("b1", 1), ("W2", 2), ("b2", 1)):
            _set(self, name, as_weight_array(name, getattr(self, name), ndim))
        n_hidden, n_inputs = self.W1.shape
        require_shape("b1", self.b1, (n_hidden,), "n_hidden, from W1")
        if self.W2.shape[1] != n_hidden:
            raise IncompatibleWeights(
                f"W2 has shape {self.W2.shape}, expected (n_outputs, {n_hidden}) (n_hidden from W1)"
            )
        require_shape("b2", self.b2, (self.W2.shape[0],), "n_outputs, from W2")
        if self.embedding is not None:
            _set(self, "embedding", as_weight_array("embedding", self.embedding, 2))
            if self.embedding.shape[0] != n_inputs:
                raise IncompatibleWeights(
                    f"embedding has shape {self.embedding.shape}, "
                    f"expected ({n_inputs}, n_features) (n_inputs from W1)"
                )

    @property
    def n_features(self) -> int:
        """Width of the model's input x (before the fixed embedding, if any)."""
        if self.embedding is not None:
            return int(self.embedding.shape[1])
        return int(self.W1.shape[1])

    @property
    def n_hidden(self) -> int:
        """Hidden width."""
        return int(self.W1.shape[0])

    @property
    def n_outputs(self) -> int:
        """Output width."""
        return int(self.W2.shape[0])

    def _trainable_fields(self) -> tuple[str, ...]:
        return ("W1", "b1", "W2", "b2")

    def hidden(self, x: Any) -> np.ndarray:
        """Hidden activations, shape (batch, n_hidden) or (n_hidden,)."""
        batch, single = _as_batch("x", x, self.n_features)
        if self.embedding is not None:
            batch = batch @ self.embedding.T
        values = apply_activation(self.activation, batch @ self.W1.T + self.b1)
        return values[0] if single else values

    def forward(self, x: Any) -> np.ndarray:
        """Model output, shape (batch, n_outputs) or (n_outputs,)."""
        hidden = self.hidden(x)
        out = hidden @ self.W2.T + self.b2
        return _relu(out) if self.output_relu else out


# --------------------------------------------------------------------------- modular addition


@register_architecture
@dataclass(frozen=True, kw_only=True, slots=True, eq=False)
class ModularAdditionMLP(_ArraysMixin):
    """The PAIR modular-addition MLP ``logits(a, b) = act(W_in[a] + W_in[b]) W_out``.

    From the PAIR explorable "Do machine learning models memorize or generalize?" (grokking);
    see docs/modular_addition.md#the-architecture. The input matrix is given either directly
    (``W_in``, p x N) or factored as ``embedding @ projection`` (p x d times d x N), as in the
    trained architecture. ``W_in_right`` (p x N), if given, is used for the second operand ``b``
    (untied inputs, Gromov 2023); otherwise both operands share ``W_in``.

    Parameters
    ----------
    W_out : ndarray, shape (N, p)
        Readout from N hidden neurons to p logits.
    W_in : ndarray, shape (p, N), optional
    embedding : ndarray, shape (p, d), optional
    projection : ndarray, shape (d, N), optional
    W_in_right : ndarray, shape (p, N), optional
    readout : ndarray, shape (N, d), optional
        The tied-unembedding factor of a factored model, ``W_out = readout @ embedding.T``
        (PAIR's trained model: ``W_in = E·H``, ``W_out = O·Eᵀ``). When given, ``W_out`` must
        equal that product (relative tolerance 1e-5); it is kept so that a trained or
        constructed model can be reloaded into the factored trainer.
    activation : {"relu", "quadratic"}
    """

    W_out: np.ndarray
    W_in: np.ndarray | None = None
    embedding: np.ndarray | None = None
    projection: np.ndarray | None = None
    W_in_right: np.ndarray | None = None
    readout: np.ndarray | None = None
    activation: str = "relu"

    architecture: ClassVar[str] = "modular-addition-mlp"
    _array_fields: ClassVar[tuple[str, ...]] = (
        "W_out",
        "W_in",
        "embedding",
        "projection",
        "W_in_right",
        "readout",
    )
    _hyper_fields: ClassVar[tuple[str, ...]] = ("activation",)

    def __post_init__(self) -> None:
        if self.activation not in PAIR_ACTIVATIONS:
            raise InvalidParameter("activation", self.activation, "'relu' or 'quadratic'")
        _set(self, "W_out", as_weight_array("W_out", self.W_out, 2))
        n_hidden, modulus = self.W_out.shape
        factored = self.embedding is not None or self.projection is not None
        if factored == (self.W_in is not None):
            raise IncompatibleWeights("give either W_in or both embedding and projection")
        if factored:
            if self.embedding is None or self.projection is None:
                raise IncompatibleWeights("a factored model needs both embedding and projection")
            _set(self, "embedding", as_weight_array("embedding", self.embedding, 2))
            _set(self, "projection", as_weight_array("projection", self.projection, 2))
            require_shape(
                "embedding",
                self.embedding,
                (modulus, self.embedding.shape[1]),
                "modulus x d_embed, modulus from W_out",
            )
            require_shape(
                "projection",
                self.projection,
                (self.embedding.shape[1], n_hidden),
                "d_embed x n_hidden",
            )
        else:
            _set(self, "W_in", as_weight_array("W_in", self.W_in, 2))
            require_shape(
                "W_in",
                self.W_in,
                (modulus, n_hidden),
                "modulus x n_hidden, from W_out's n_hidden x modulus",
            )
        if self.W_in_right is not None:
            _set(self, "W_in_right", as_weight_array("W_in_right", self.W_in_right, 2))
            require_shape("W_in_right", self.W_in_right, (modulus, n_hidden), "modulus x n_hidden")
        if self.readout is not None:
            self._check_readout()

    def _check_readout(self) -> None:
        if self.embedding is None:
            raise IncompatibleWeights(
                "readout (W_out = readout @ embedding.T) needs a factored model with an embedding"
            )
        _set(self, "readout", as_weight_array("readout", self.readout, 2))
        require_shape(
            "readout", self.readout, (self.n_hidden, self.embedding.shape[1]), "n_hidden x d_embed"
        )
        product = self.readout @ self.embedding.T
        scale = max(float(np.max(np.abs(product), initial=0.0)), 1e-30)
        if not np.allclose(self.W_out, product, rtol=1e-5, atol=1e-5 * scale):
            raise IncompatibleWeights("W_out differs from readout @ embedding.T")

    @property
    def modulus(self) -> int:
        """p, the number of residues and of output classes."""
        return int(self.W_out.shape[1])

    @property
    def n_hidden(self) -> int:
        """N, the number of hidden neurons."""
        return int(self.W_out.shape[0])

    def _trainable_fields(self) -> tuple[str, ...]:
        # W_out is derived (readout @ embedding.T) when the readout is tied to the embedding
        skip = {"W_out"} if self.readout is not None else set()
        return tuple(
            name
            for name in self._array_fields
            if getattr(self, name) is not None and name not in skip
        )

    @property
    def factored(self) -> bool:
        """True when the input matrix is stored as embedding @ projection."""
        return self.W_in is None

    def input_matrix(self) -> np.ndarray:
        """The (p, N) matrix whose rows are added: ``W_in`` or ``embedding @ projection``."""
        if self.W_in is not None:
            return self.W_in
        return self.embedding @ self.projection  # type: ignore[operator]

    def right_input_matrix(self) -> np.ndarray:
        """The (p, N) matrix used for the second operand (``input_matrix()`` when tied)."""
        return self.input_matrix() if self.W_in_right is None else self.W_in_right

    def hidden(self, a: Any, b: Any) -> np.ndarray:
        """Hidden activations ``act(W_in[a] + W_in[b])``, shape (batch, N)."""
        a_idx = self._residues("a", a)
        b_idx = self._residues("b", b)
        pre = self.input_matrix()[a_idx] + self.right_input_matrix()[b_idx]
        return apply_activation(self.activation, pre)

    def forward(self, a: Any, b: Any) -> np.ndarray:
        """Logits, shape (batch, p) for integer arrays ``a``, ``b`` of shape (batch,)."""
        return self.hidden(a, b) @ self.W_out

    def _residues(self, name: str, values: Any) -> np.ndarray:
        indices = np.asarray(values)
        if indices.dtype.kind not in "iu":
            raise InvalidParameter(name, indices.dtype, "integer residues")
        if indices.size and (indices.min() < 0 or indices.max() >= self.modulus):
            raise InvalidParameter(name, "out of range", f"residues in [0, {self.modulus})")
        return indices


def replace(model: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` for models (re-validates)."""
    return dataclasses.replace(model, **changes)
