"""Export of trained policies to ONNX with their policy card (ROS-free)."""

from synergy_control.export.card import CARD_FORMAT, METADATA_KEY, CardError, PolicyCard
from synergy_control.export.onnx_export import ExportError, card_path, export_policy
from synergy_control.export.untrained import export_untrained

__all__ = ['CARD_FORMAT', 'METADATA_KEY', 'CardError', 'ExportError', 'PolicyCard', 'card_path',
           'export_policy', 'export_untrained']
