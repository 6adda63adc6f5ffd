"""Export of trained policies to ONNX with their policy card (ROS-free, needs torch).

The names below are imported on first use, so that importing a torch-free module of this
package (or :mod:`synergy_control.card`, which the deployment path reads) never loads torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {'ExportError': 'onnx_export', 'card_path': 'onnx_export',
         'export_checkpoint': 'trained', 'export_policy': 'onnx_export',
         'export_untrained': 'untrained'}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """Import an exporter name when it is first asked for (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(f'{__name__}.{_LAZY[name]}'), name)
