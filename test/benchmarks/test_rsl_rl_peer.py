"""The rsl_rl peer reads our PPO configs with our defaults (benchmarks/rsl_rl_peer.py).

The peers' venv cannot import ``synergy_control``, so the peer keeps a copy of
``PPOConfig``'s defaults for the keys a config leaves out (``humanoid_ppo.yaml`` has no
``value_coef``). The copy is read from the script's source, since importing it needs
``rsl_rl``, which the project's venv does not have.
"""

import ast
from pathlib import Path

from synergy_control.training.config import PPOConfig

SCRIPT = Path(__file__).resolve().parents[2] / 'benchmarks' / 'rsl_rl_peer.py'


def peer_defaults() -> dict:
    """``PPO_DEFAULTS`` as the script defines it."""
    for node in ast.parse(SCRIPT.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', '') == 'PPO_DEFAULTS':
            return ast.literal_eval(node.value)
    raise AssertionError(f'{SCRIPT} defines no PPO_DEFAULTS')


def test_the_peers_defaults_are_ppo_configs():
    ours = PPOConfig()
    defaults = peer_defaults()
    assert defaults, 'no defaults'
    for key, value in defaults.items():
        assert getattr(ours, key) == value, key
