"""SAR's synergy basis: PCA → FastICA → scaling to [-1, 1] of recorded actuator activations.

Fitted with scikit-learn exactly as the SAR tutorial does; the map back from synergy values
``z`` in [-1, 1]^L to actuator activations is affine, so it is stored as one matrix and one
offset (``decode(z) = z @ matrix + offset``), which the blended policy carries inside its
network and therefore inside the exported ONNX graph. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

METHOD = 'sar-pca-ica'


def variance_accounted_for(activations: np.ndarray) -> np.ndarray:
    """Cumulative fraction of variance explained by the first 1..A principal components."""
    from sklearn.decomposition import PCA  # scikit-learn only where a basis is fitted
    pca = PCA().fit(np.asarray(activations, dtype=np.float64))
    return np.cumsum(pca.explained_variance_ratio_)


def synergy_count(vaf: np.ndarray, threshold: float) -> int:
    """Fewest components whose VAF exceeds ``threshold`` (the tutorial's rule: 0.8)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f'VAF threshold must be in (0, 1], got {threshold}')
    return int(min(np.searchsorted(vaf, threshold, side='left') + 1, len(vaf)))


@dataclass(frozen=True)
class SynergyBasis:
    """An affine synergy decoder ``activations = z @ matrix + offset`` and how it was fit."""

    matrix: np.ndarray  # [L, A]
    offset: np.ndarray  # [A]
    fit: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """L, the number of synergies."""
        return int(self.matrix.shape[0])

    def decode(self, synergies: np.ndarray) -> np.ndarray:
        """Actuator activations [.., A] for synergy values [.., L]."""
        return np.asarray(synergies) @ self.matrix + self.offset

    def to_card(self) -> dict[str, Any]:
        """Return the card's ``synergy`` section: the basis and its fit statistics."""
        return {'method': METHOD, 'count': self.count, 'basis': self.matrix.tolist(),
                'offset': self.offset.tolist(), 'fit': dict(self.fit)}

    @classmethod
    def from_card(cls, section: dict[str, Any]) -> 'SynergyBasis':
        """Rebuild from a card's ``synergy`` section."""
        matrix = np.asarray(section['basis'], dtype=np.float64)
        offset = np.asarray(section['offset'], dtype=np.float64)
        if matrix.ndim != 2 or offset.shape != (matrix.shape[1],):
            raise ValueError(f"synergy 'basis' {matrix.shape} and 'offset' {offset.shape} "
                             'do not fit together')
        return cls(matrix, offset, dict(section.get('fit', {})))

    def save(self, path: str | Path) -> None:
        """Write the card section as YAML: what ``synergies extract`` produces."""
        Path(path).write_text(yaml.safe_dump(self.to_card(), sort_keys=False))

    @classmethod
    def load(cls, path: str | Path) -> 'SynergyBasis':
        """Read a basis file written by :meth:`save`; ValueError naming the file otherwise."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f'synergy basis file {path} does not exist '
                             '(make one with `synergy-control synergies extract`)')
        try:
            section = yaml.safe_load(path.read_text())
            basis = cls.from_card(section)
        except (yaml.YAMLError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f'synergy basis file {path} is not a basis: {error!r}') from None
        if not (np.all(np.isfinite(basis.matrix)) and np.all(np.isfinite(basis.offset))):
            raise ValueError(f'synergy basis file {path} has non-finite values')
        return basis


def fit_basis(activations: np.ndarray, count: int | None = None, *, vaf_threshold: float = 0.8,
              seed: int = 0) -> SynergyBasis:
    """Fit PCA(L) → FastICA → MinMaxScaler(-1, 1) on activations [N, A].

    ``count`` None picks L from ``vaf_threshold``. The decoder inverts the three fitted
    transforms: act = ((z − min_) / scale_) · mixing_ᵀ + ica.mean_) · components_ + pca.mean_.
    """
    from sklearn.decomposition import PCA, FastICA
    from sklearn.preprocessing import MinMaxScaler
    activations = np.asarray(activations, dtype=np.float64)
    if activations.ndim != 2 or len(activations) < 2 or not np.all(np.isfinite(activations)):
        raise ValueError(f'activations must be a finite [samples, actuators] array with at '
                         f'least two rows, got shape {activations.shape}')
    vaf = variance_accounted_for(activations)
    count = synergy_count(vaf, vaf_threshold) if count is None else int(count)
    if not 1 <= count <= activations.shape[1]:
        raise ValueError(f'synergy count must be in 1..{activations.shape[1]}, got {count}')
    pca = PCA(n_components=count, random_state=seed).fit(activations)
    scores = pca.transform(activations)
    ica = FastICA(random_state=seed, max_iter=1000).fit(scores)
    sources = ica.transform(scores)
    scaler = MinMaxScaler((-1, 1)).fit(sources)
    # z → sources: (z − min_) / scale_; sources → scores: · mixing_ᵀ + mean_; → act: · comp + mean
    to_sources = np.diag(1.0 / scaler.scale_)
    source_offset = -scaler.min_ / scaler.scale_
    to_scores = ica.mixing_.T
    matrix = to_sources @ to_scores @ pca.components_
    offset = (source_offset @ to_scores + ica.mean_) @ pca.components_ + pca.mean_
    reconstructed = scaler.transform(sources) @ matrix + offset
    fit = {'samples': int(len(activations)), 'actuators': int(activations.shape[1]),
           'vaf': [round(float(v), 6) for v in vaf],
           'vaf_threshold': float(vaf_threshold),
           'vaf_of_basis': float(vaf[count - 1]),
           'reconstruction_rmse': float(np.sqrt(np.mean((reconstructed - activations) ** 2))),
           'seed': int(seed)}
    return SynergyBasis(matrix, offset, fit)
