"""The exception family, re-exported from :mod:`toyforge.core.errors` (its home)."""

from toyforge.core.errors import CorruptFile, IncompatibleWeights, InvalidParameter, ToyforgeError

__all__ = ["CorruptFile", "IncompatibleWeights", "InvalidParameter", "ToyforgeError"]
