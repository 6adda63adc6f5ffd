"""Export a training run or checkpoint to ONNX, with the card's training summary filled in."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

from synergy_control.card import OPSET, PolicyCard
from synergy_control.envs import make_env
from synergy_control.export import ExportError, export_policy
from synergy_control.robots import get_robot
from synergy_control.rollout import rollout_steps
from synergy_control.training.checkpoint import agent_from_checkpoint, load_checkpoint
from synergy_control.training.config import config_from_dict


def resolve_checkpoint(source: str | Path) -> Path:
    """Resolve a checkpoint file, or a run directory's best (else last) checkpoint."""
    source = Path(source)
    if source.is_dir():
        for name in ('best.pt', 'last.pt'):
            if (source / 'checkpoints' / name).is_file():
                return source / 'checkpoints' / name
        raise FileNotFoundError(f'run directory {source} has no checkpoints/best.pt or last.pt')
    return source


def sample_observations(agent, robot: str, obs_mode: str, steps: int = 500) -> np.ndarray:
    """Collect observations the policy itself visits, for the export parity check."""
    seen: list[np.ndarray] = []
    rollout_steps(make_env(robot, obs_mode=obs_mode),
                  lambda obs: agent.act(obs, deterministic=True), steps, seed=12345,
                  observe=seen.append)
    return np.asarray(seen, dtype=np.float32)


def graph_sections(agent) -> dict:
    """Return the card sections of the agent's export graph: named inputs, outputs, synergy, tasks.

    Read from ``agent.export_spec()`` (policy contract v2); an agent without one exports the
    plain graph (observation in, action out).
    """
    if not hasattr(agent, 'export_spec'):
        return {}
    spec = agent.export_spec()
    return {'synergy': spec.get('synergy'), 'tasks': spec.get('tasks'),
            'onnx': {'opset': OPSET, 'inputs': spec['inputs'], 'outputs': spec['outputs']},
            'constants': spec.get('constants') or {}}


def check_constants(card: PolicyCard, constants: dict[str, np.ndarray]) -> None:
    """Refuse constants the agent feeds its graph that differ from the card's (the runtime's)."""
    for entry in card.onnx['inputs']:
        name = entry['name']
        if name in constants and not np.array_equal(
                np.asarray(constants[name], dtype=np.float32), card.constant(entry['source'])):
            raise ExportError(f"constant input '{name}' of the agent differs from the card's "
                              f"{entry['source']}")


def _normalization(agent) -> dict:
    """Describe the observation normaliser baked into the graph, for the card."""
    if agent.obs_norm is None:
        return {'baked_into_graph': False}
    return {'baked_into_graph': True, 'clip': float(agent.obs_norm.clip)}


def export_checkpoint(source: str | Path, out: str | Path, *, name: str | None = None,
                      machine: str | None = None) -> PolicyCard:
    """Write ``out`` (.onnx + .card.yaml) from a run directory or checkpoint file."""
    path = resolve_checkpoint(source)
    state = load_checkpoint(path)
    config = config_from_dict(state['config']).to_dict()  # older configs: hidden_sizes -> policy
    agent = agent_from_checkpoint(state)
    counters = state['counters']
    training = {
        'algorithm': config['algorithm'], 'config_name': config.get('name', ''),
        'seed': config['seed'], 'env_steps': int(counters['env_steps']),
        'updates': int(counters['updates']), 'episodes': int(counters['episodes']),
        'wall_time_s': round(float(state['wall_time']), 1),
        'machine': machine or f'{platform.machine()} {config.get("device", "cpu")}',
        'checkpoint': path.name, 'last_eval': state.get('last_eval'),
        'best_eval_mean': state.get('best_eval'),
        'policy': config['policy'], 'normalize_obs': config['normalize_obs'],
    }
    robot = get_robot(config['robot'])
    sections = graph_sections(agent)
    constants = sections.pop('constants', {})
    card = PolicyCard.for_robot(robot, name=name or Path(out).stem, method=config['algorithm'],
                                obs_mode=config['obs_mode'], training=training,
                                normalization=_normalization(agent), **sections)
    check_constants(card, constants)
    samples = sample_observations(agent, config['robot'], config['obs_mode'])
    export_policy(agent.policy(), card, out, sample_observations=samples)
    return card
