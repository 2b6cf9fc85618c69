"""Lazy package re-exports: a name resolves to its module's object, unknown names fail clearly."""

import subprocess
import sys

import pytest

from toyforge.core.lazy import lazy_exports


def test_a_listed_name_is_the_object_of_its_module():
    getattr_, dir_ = lazy_exports("pkg", {"sqrt": "math", "dumps": "json"})
    import json
    import math

    assert getattr_("sqrt") is math.sqrt
    assert getattr_("dumps") is json.dumps
    assert dir_() == ["dumps", "sqrt"]


def test_an_unlisted_name_raises_attribute_error_naming_the_package():
    getattr_, _ = lazy_exports("pkg", {"sqrt": "math"})
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'nope'"):
        getattr_("nope")


def test_importing_one_subpackage_name_does_not_import_its_siblings():
    code = (
        "import sys\n"
        "from toyforge.verify.train import AdamConfig\n"
        "print('toyforge.verify.train.autoencoder' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
