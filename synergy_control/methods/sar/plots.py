"""SAR's pictures: the variance accounted for against the number of synergies."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_vaf(vaf: np.ndarray, count: int, threshold: float | None, out: str | Path,
             title: str = '') -> None:
    """Cumulative VAF of 1..A principal components, the threshold and the chosen count."""
    import matplotlib
    matplotlib.use('Agg')  # files only; never a display backend
    from matplotlib import pyplot as plt
    components = np.arange(1, len(vaf) + 1)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(components, vaf, 'o-', color='C0', label='VAF')
    if threshold is not None:
        ax.axhline(threshold, color='grey', ls='--', lw=1, label=f'threshold {threshold:g}')
    ax.axvline(count, color='C3', lw=1, label=f'{count} synergies')
    ax.set(xlabel='number of components', ylabel='variance accounted for', ylim=(0, 1.02),
           xticks=components, title=title)
    ax.legend(loc='lower right')
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
