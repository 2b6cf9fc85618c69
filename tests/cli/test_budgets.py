"""Command budgets: the estimates are upper bounds of what the work really uses, and they
refuse only above the limit.

The peak memory of a run is measured in a fresh subprocess (``ru_maxrss`` after the imports,
then after the work) and must not exceed the command's estimate: an estimate below the real
use would let a command start an allocation it cannot finish.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from toyforge.cli import main

MEASURE = """
import argparse, json, resource, sys
from toyforge.commands import _budgets
{imports}
args = argparse.Namespace(**json.loads(sys.argv[1]))
estimates = []
_budgets.check_memory = lambda flag, value, n_bytes, what="": estimates.append(n_bytes)
_budgets.{check}(args)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
{work}
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"estimate": max(estimates), "peak": (after - before) * 1024}}))
"""

CASES = {
    "build persian-rug": (
        "_build_persian_rug",
        "from toyforge.constructions.persian_rug import persian_rug",
        "persian_rug(args.features, args.ratio, args.feature_prob, seed=0)",
        {"features": 2**22, "ratio": 0.25, "feature_prob": 0.05},
    ),
    "train relu-ae (one step)": (
        "_train_relu_ae",
        "from toyforge.verify.train.autoencoder import SparseFeatureData, TrainConfig, "
        "init_relu_autoencoder, train",
        "model = init_relu_autoencoder(args.features, int(args.features * args.ratio), seed=0)\n"
        "data = SparseFeatureData(n_features=args.features, feature_prob=args.feature_prob)\n"
        "config = TrainConfig(steps=2, batch_size=args.batch, dtype=args.dtype, backend='numpy')\n"
        "train(model, data, config)",
        {
            "features": 2048,
            "ratio": 0.5,
            "feature_prob": 0.05,
            "batch": 1024,
            "dtype": "float64",
            "eval_samples": 0,
        },
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_estimate_bounds_the_measured_peak(name):
    check, imports, work, values = CASES[name]
    code = MEASURE.format(check=check, imports=imports, work=work)
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(values)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    measured = json.loads(result.stdout.splitlines()[-1])
    assert measured["peak"] <= measured["estimate"], measured


def test_small_commands_pass_a_small_limit(tmp_path, capsys):
    out = str(tmp_path / "w.npz")
    argv = ["build", "persian-rug", "--features", "1024", "--ratio", "0.25"]
    assert main([*argv, "--feature-prob", "0.05", "--out", out, "--max-memory", "16M"]) == 0
    assert main([*argv, "--feature-prob", "0.05", "--out", out, "--max-memory", "32K"]) == 2
    assert "32.0 KiB is available" in capsys.readouterr().err
