"""Evaluation, training and comparison of models: numba kernels with numpy references."""

from toyforge.verify.estimate import Estimate

__all__ = ["Estimate"]
