"""Sizes of every report item: :class:`ReportConfig`, :data:`FULL_REPORT`, :data:`QUICK_REPORT`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from toyforge.core.serde import to_jsonable

__all__ = ["FULL_REPORT", "QUICK_REPORT", "ReportConfig"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportConfig:
    """Sizes of every report item (defaults: the full report, i.e. the README's figures).

    The Persian-rug items follow the parameters stamped into the gallery PNGs; see
    :data:`QUICK_REPORT` for the small sizes of ``--quick``.
    """

    name: str = "full"
    seed: int = 0
    # Persian-rug images (toyforge figure rug)
    rug_features: int = 1024
    rug_ratio: float = 0.25
    rug_feature_prob: float = 0.01
    big_rug_features: int = 2**20
    big_rug_ratio: float = 0.1
    trained_rug_features: int = 256
    trained_rug_steps: int = 3000
    image_size: int = 256
    # loss curves (toyforge figure loss-curves)
    ratio_curve_features: int = 4096
    ratio_curve_fixed: float = 0.05
    ratio_curve_points: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4, 0.7)
    prob_curve_features: int = 512
    prob_curve_fixed: float = 0.25
    prob_curve_points: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 0.6)
    prob_curve_train_steps: int = 2000
    curve_samples: int = 4000
    # convergence (toyforge figure convergence)
    convergence_ratio: float = 0.1
    convergence_feature_prob: float = 0.01
    convergence_sizes: tuple[int, ...] = (256, 1024, 4096, 16384, 65536, 262144)
    convergence_samples: int = 20_000
    # theory vs rug vs trained table
    compare_features: int = 1024
    compare_ratios: tuple[float, ...] = (0.1, 0.25)
    compare_feature_probs: tuple[float, ...] = (0.01, 0.05)
    compare_samples: int = 20_000
    compare_train_steps: int = 20_000  # a budget: the convergence rule stops each run earlier
    # phase diagrams (theory on the paper grid; rug and trained on a coarser sub-grid)
    phase_features: int = 1024
    phase_points: int = 20
    phase_compare_points: int = 6
    phase_compare_features: int = 512
    phase_compare_samples: int = 10_000
    phase_train_steps: int = 20_000  # a budget, as above
    # modular addition
    moduli: tuple[int, ...] = (67, 113)
    grok: Mapping[str, Any] = field(default_factory=lambda: {"stop_after_grok": 5000})
    # double descent (toyforge double-descent)
    # one seed, one initialisation per size: the gallery figure (3 × 3 restarts take ~75 min)
    double_descent: Mapping[str, Any] = field(default_factory=lambda: {"seeds": 1, "restarts": 1})
    geometry_sizes: tuple[int, ...] = (5, 10, 100, 500, 2000)
    # reconstruction limits (toyforge figure reconstruction-limits; its defaults)
    reconstruction: Mapping[str, Any] = field(default_factory=dict)
    # solution-family structure (toyforge figure structure / families; theory only)
    structure_resolution: int = 200
    structure_p_min: float = 1e-3
    families_feature_probs: tuple[float, ...] = (0.01, 0.05, 0.16, 0.48)
    families_resolution: int = 120
    # non-identical features (toyforge features two / tms / width / pairs)
    two_feature_resolution: int = 200
    tms: Mapping[str, Any] = field(
        default_factory=lambda: {
            "feature_probs": (1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01),
            "steps": 3000,
            "restarts": 2,
        }
    )
    width: Mapping[str, Any] = field(
        default_factory=lambda: {
            "n_features": 128,
            "feature_probs": "zipf:1.2:0.4:0.01",
            "widths": (4, 8, 16, 32, 64),
            "steps": 1500,
        }
    )
    pair_correlations: tuple[float, ...] = (0.0, 0.8, -1.0 / 3.0)
    pairs: Mapping[str, Any] = field(
        default_factory=lambda: {"feature_prob": 0.25, "steps": 2000, "restarts": 3}
    )
    # grokking phase diagram (toyforge grok-phase; its defaults)
    grok_phase: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready data."""
        return to_jsonable({name: getattr(self, name) for name in self.__slots__})


FULL_REPORT = ReportConfig()

QUICK_REPORT = ReportConfig(
    name="quick",
    big_rug_features=2**16,
    trained_rug_steps=1000,
    ratio_curve_features=1024,
    prob_curve_features=256,
    prob_curve_train_steps=400,
    curve_samples=2000,
    convergence_sizes=(256, 1024, 4096, 16384),
    convergence_samples=5000,
    compare_samples=10_000,
    compare_train_steps=600,
    phase_compare_points=4,
    phase_compare_features=256,
    phase_compare_samples=4000,
    phase_train_steps=300,
    grok={"train_fraction": 0.7, "lr": 3e-3, "steps": 5000, "stop_after_grok": 500},
    reconstruction={
        "n_features": 20,
        "n_points": 300,
        "sparsities": (0.7, 0.9, 0.95),
        "sizes": (1, 4, 16),
        "steps": 400,
        "n_test": 300,
    },
    structure_resolution=80,
    families_resolution=60,
    two_feature_resolution=100,
    tms={"feature_probs": (1.0, 0.3, 0.1, 0.03, 0.01), "steps": 1000, "restarts": 1},
    width={
        "n_features": 128,
        "feature_probs": "zipf:1.2:0.4:0.01",
        "widths": (4, 16, 64),
        "steps": 500,
    },
    pairs={"feature_prob": 0.25, "steps": 600, "restarts": 1},
    grok_phase={"grid": 4, "seeds": 1, "steps": 3000},
    double_descent={
        "seeds": 1,
        "restarts": 1,
        "sizes": (3, 5, 10, 30, 100, 500, 1000, 2000),
        "steps": 5000,
        "warmup_steps": 250,
        "lr": 1e-2,
    },
)
"""``--quick``: rug at 2^16 instead of 2^20 for the crop, curves at n = 1024 / 256, the
convergence study up to n = 16384 with 5000 samples, 300–1000 training steps, a 4 × 4
comparison sub-grid at n = 256, grokking with 70 % of the pairs at lr 3e-3, double descent on 8
sizes with 5000 steps (lr 1e-2), coarser theory grids, 500–1000 steps and one restart for the
non-identical-feature models, a 4 × 4 × 1 grokking phase diagram of 3000 steps."""
