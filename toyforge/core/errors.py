"""The toyforge exception family.

Every error a user can cause is a :class:`ToyforgeError`. Messages name the parameter (or file),
the value received and what is allowed, so the CLI can print them as one line and exit 2.

This module is a leaf: it imports nothing from the project, so every layer (``theory``,
``constructions``, ``verify``, ``figures``) may raise these errors without breaking the one-way
import rule of docs/index.md#layers-and-conventions.
"""

from __future__ import annotations

__all__ = [
    "CorruptFile",
    "IncompatibleWeights",
    "InvalidParameter",
    "ToyforgeError",
]


class ToyforgeError(Exception):
    """Base class of every error toyforge raises on purpose."""


class InvalidParameter(ToyforgeError, ValueError):
    """A parameter is out of its allowed domain.

    Parameters
    ----------
    name : str
        The parameter's name as the user spells it (``"feature_prob"``, ``"--ratio"``).
    value : object
        The value received.
    allowed : str
        What is allowed, in words (``"0 < feature_prob <= 1"``).
    """

    def __init__(self, name: str, value: object, allowed: str) -> None:
        self.name = name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{name}={value!r} is invalid: allowed is {allowed}")


class IncompatibleWeights(ToyforgeError, ValueError):
    """Arrays or a weight file do not fit the architecture they are used with."""


class CorruptFile(ToyforgeError, OSError):
    """A file is truncated, not in a toyforge format, pickled, or otherwise unreadable."""
