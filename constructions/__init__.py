"""Weights built directly: the architectures (``models``), weight files (``io``), builders."""

from toyforge.constructions.models import (
    ARCHITECTURES,
    MLP,
    ModularAdditionMLP,
    ReluAutoencoder,
    register_architecture,
)

__all__ = ["ARCHITECTURES", "MLP", "ModularAdditionMLP", "ReluAutoencoder", "register_architecture"]
