"""Trainer hooks: periodic work every N environment steps, with state kept in checkpoints.

A hook is a :class:`Hook` subclass registered by name (``@register_hook('name')``) and named
in a config's ``hooks:`` list with its period and settings::

    hooks:
      - {name: recluster, every: 10000, preference_scale: 1.2}

SOLAR re-clusters its synergies here: a hook sees the whole trainer, in particular
``trainer.agent`` (networks, optimisers), ``trainer.buffer`` (one replay per training robot,
``trainer.buffer.sample(n, key=robot)``), ``trainer.context.robots`` (limb trees, hop
distances) and ``trainer.env_steps``. Whatever it must remember goes in :meth:`state_dict`
(tensors, numbers, strings, lists, dicts): it is saved with every checkpoint and handed back
on ``--resume`` before :meth:`start`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synergy_control.registry import Registry

if TYPE_CHECKING:
    from synergy_control.training.runner import Trainer


class Hook:
    """Periodic trainer work; subclass, set ``Settings``, register."""

    @dataclass
    class Settings:
        """No options."""

    def __init__(self, settings: Any):
        self.settings = settings

    def start(self, trainer: Trainer) -> None:
        """Prepare before the loop (a resumed run has restored the hook's state by then)."""

    def __call__(self, trainer: Trainer) -> None:
        """Do the periodic work (every ``every`` environment steps)."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Return what the hook must remember across a resume."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""


# name -> module that registers it: one line per hook shipped in this package
BUILTIN_HOOKS: dict[str, str] = {'solar_recluster': 'synergy_control.methods.solar.hooks'}
HOOKS: Registry[type[Hook]] = Registry('hook', BUILTIN_HOOKS)
register_hook = HOOKS.register
