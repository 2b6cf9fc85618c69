"""Structure reader on models whose structure is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from toyforge.constructions.families import build_envelope, build_family
from toyforge.core.errors import InvalidParameter
from toyforge.verify.evaluate.structure import read_structure


def _read(built):
    return read_structure(built.model.W_in, built.model.W_out)


@pytest.mark.parametrize(
    ("name", "dims"),
    [("digon", 1 / 2), ("triangle", 2 / 3), ("pentagon", 2 / 5), ("tetrahedron", 3 / 4)],
)
def test_polytopes_are_named_by_their_plateau(name, dims):
    built = build_family(name, 60, 0.1)
    report = _read(built)
    np.testing.assert_allclose(report.dimensionality, dims, rtol=1e-12)
    assert report.feature_shares == {name: 1.0}


def test_digon_partner_graph():
    report = _read(build_family("digon", 16, 0.1))
    np.testing.assert_allclose(report.min_cosine, -1.0)
    assert np.all(report.n_partners == 1)


def test_dedicated_and_dropped():
    assert _read(build_family("dedicated", 8, 0.1)).feature_shares == {"dedicated": 1.0}
    built = build_family("dropped", 8, 0.1)
    assert read_structure(built.model.W_in if built.model.n_hidden else np.zeros((1, 8))).labels[
        0
    ] == ("dropped")


def test_rugs():
    pair = _read(build_family("pair-rug", 256, 0.05, ratio=0.25, seed=1))
    assert pair.feature_shares == {"pair-rug": 1.0}
    rug = _read(build_family("persian-rug", 256, 0.05, ratio=0.25, seed=1))
    assert rug.feature_shares == {"persian-rug": 1.0}
    assert np.sum(rug.dimensionality) == pytest.approx(64, rel=1e-9)  # tight frame: sum D = m


def test_envelope_mixture_shares():
    built = build_envelope(512, 0.64, 0.16, seed=0)
    report = _read(built)
    for component in built.components:
        assert report.feature_shares[component.family] == pytest.approx(component.n_features / 512)


def test_bad_input():
    with pytest.raises(InvalidParameter, match="antipodal"):
        read_structure(np.eye(3), antipodal=0)
    with pytest.raises(InvalidParameter, match="W_out"):
        read_structure(np.eye(3), np.eye(2))


def test_asymmetric_digon_is_recognised():
    report = _read(build_family("asymmetric-digon", 64, 0.16))
    assert report.feature_shares == {"asymmetric-digon": 1.0}
    assert np.all(report.n_partners == 1)
