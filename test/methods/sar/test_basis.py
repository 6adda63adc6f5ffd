"""SAR basis: the affine decoder equals scikit-learn's chained inverse transforms."""

import numpy as np
import pytest
from sklearn.decomposition import PCA, FastICA
from sklearn.preprocessing import MinMaxScaler

from synergy_control.methods.sar.basis import (SynergyBasis, fit_basis, synergy_count,
                                               variance_accounted_for)


def activations(samples: int = 2000, actuators: int = 8, hidden: int = 3, seed: int = 0
                ) -> np.ndarray:
    """Activations driven by ``hidden`` independent sources plus a little noise."""
    rng = np.random.default_rng(seed)
    sources = rng.laplace(size=(samples, hidden))
    mixing = rng.normal(size=(hidden, actuators))
    return np.tanh(0.5 * sources @ mixing) + 0.01 * rng.normal(size=(samples, actuators))


def test_decoder_equals_sklearns_inverse_transforms():
    data = activations()
    basis = fit_basis(data, 3, seed=4)
    pca = PCA(n_components=3, random_state=4).fit(data)
    ica = FastICA(random_state=4, max_iter=1000).fit(pca.transform(data))
    scaler = MinMaxScaler((-1, 1)).fit(ica.transform(pca.transform(data)))
    z = np.random.default_rng(1).uniform(-1, 1, size=(50, 3))
    expected = pca.inverse_transform(ica.inverse_transform(scaler.inverse_transform(z)))
    np.testing.assert_allclose(basis.decode(z), expected, atol=1e-9)


def test_vaf_picks_the_number_of_hidden_sources():
    data = activations(hidden=3)
    vaf = variance_accounted_for(data)
    assert np.all(np.diff(vaf) >= -1e-12) and vaf[-1] == pytest.approx(1.0)
    assert synergy_count(vaf, 0.95) == 3
    basis = fit_basis(data, vaf_threshold=0.95)
    assert basis.count == 3
    assert basis.fit['vaf_of_basis'] >= 0.95
    # PCA keeps all but (1 - VAF) of the variance; ICA and the scaling lose nothing
    residual = (1 - basis.fit['vaf_of_basis']) * data.var(0).sum() / data.shape[1]
    assert basis.fit['reconstruction_rmse'] ** 2 == pytest.approx(residual, rel=1e-6)


def test_synergy_count_rule():
    vaf = np.array([0.5, 0.79, 0.8, 0.95, 1.0])
    assert synergy_count(vaf, 0.8) == 3
    assert synergy_count(vaf, 0.3) == 1
    assert synergy_count(vaf, 1.0) == 5
    with pytest.raises(ValueError, match='threshold'):
        synergy_count(vaf, 0.0)


def test_card_round_trip_and_bad_input():
    basis = fit_basis(activations(), 2)
    again = SynergyBasis.from_card(basis.to_card())
    z = np.array([[0.3, -0.7]])
    np.testing.assert_allclose(again.decode(z), basis.decode(z))
    with pytest.raises(ValueError, match='do not fit'):
        SynergyBasis.from_card({**basis.to_card(), 'offset': [0.0]})
    with pytest.raises(ValueError, match='finite'):
        fit_basis(np.full((10, 4), np.nan))
    with pytest.raises(ValueError, match='1..8'):
        fit_basis(activations(), 9)


def test_basis_file_round_trip_and_refusals(tmp_path):
    basis = fit_basis(activations(), 2)
    basis.save(tmp_path / 'basis.yaml')
    again = SynergyBasis.load(tmp_path / 'basis.yaml')
    np.testing.assert_array_equal(again.matrix, basis.matrix)
    np.testing.assert_array_equal(again.offset, basis.offset)
    assert again.fit == basis.fit
    with pytest.raises(ValueError, match=r'nothing\.yaml does not exist'):
        SynergyBasis.load(tmp_path / 'nothing.yaml')
    (tmp_path / 'list.yaml').write_text('[1, 2]\n')
    with pytest.raises(ValueError, match=r'list\.yaml is not a basis'):
        SynergyBasis.load(tmp_path / 'list.yaml')
    SynergyBasis(np.array([[np.nan, 1.0]]), np.zeros(2)).save(tmp_path / 'nan.yaml')
    with pytest.raises(ValueError, match=r'nan\.yaml has non-finite values'):
        SynergyBasis.load(tmp_path / 'nan.yaml')
