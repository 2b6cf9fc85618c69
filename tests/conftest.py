"""Test configuration: Hypothesis profiles and a headless matplotlib backend.

Profiles (``deadline=None`` everywhere: the first example may trigger a numba compile):

* ``dev`` — 25 examples, quick local runs;
* ``ci`` — 60 examples, derandomised, no example database (the default of ``make test``);
* ``thorough`` — 500 examples, for a nightly or a pre-release run.

Choose with ``TOYFORGE_HYPOTHESIS_PROFILE`` (default: ``ci`` when ``CI`` is set, else ``dev``).
"""

from __future__ import annotations

import os
import tempfile

import matplotlib
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
_default = "ci" if os.environ.get("CI") else "dev"
settings.load_profile(os.environ.get("TOYFORGE_HYPOTHESIS_PROFILE", _default))

os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="toyforge-numba-"))
