"""Export a training run or checkpoint to ONNX, with the card's training summary filled in."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

from synergy_control.card import OPSET, PolicyCard, variable_signature
from synergy_control.envs import make_env, split_env_id
from synergy_control.export.onnx_export import ExportError, export_policy
from synergy_control.observation import ObservationBuilder
from synergy_control.robots import get_robot
from synergy_control.rollout import rollout_steps
from synergy_control.training.checkpoint import agent_from_checkpoint, load_checkpoint
from synergy_control.training.config import Config, config_from_dict


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
                  lambda obs: agent.act(obs, deterministic=True, robot=robot), steps,
                  seed=12345, observe=seen.append)
    return np.asarray(seen, dtype=np.float32)


def graph_sections(agent, robot: str) -> dict:
    """Return the card sections of the agent's export graph for ``robot``.

    Named inputs and outputs, synergy and tasks, as the policy builder declares them.
    """
    spec = agent.export_spec(robot)
    return {'synergy': spec.get('synergy'), 'tasks': spec.get('tasks'),
            'onnx': {'opset': OPSET, 'inputs': spec['inputs'], 'outputs': spec['outputs']}}


def _normalization(agent) -> dict:
    """Describe the observation normaliser baked into the graph, for the card."""
    if agent.obs_norm is None:
        return {'baked_into_graph': False}
    return {'baked_into_graph': True, 'clip': float(agent.obs_norm.clip)}


#: ``robot`` of :func:`export_checkpoint` that exports one graph for every robot of a set run.
ALL_ROBOTS = 'all'


def export_robot(config: Config, robot: str | None) -> str:
    """Return the robot an export serves: the run's only one, or ``robot`` among its robots."""
    train, zero_shot = config.robot_split()
    if robot is None:
        if len(train) + len(zero_shot) > 1:
            raise ExportError(f'run {config.name} drives {train + zero_shot}: name the robot '
                              f"to export for (--robot), or '{ALL_ROBOTS}' for one graph "
                              'serving them all')
        return train[0]
    if robot not in train + zero_shot:
        raise ExportError(f"robot '{robot}' is not one of run {config.name}'s robots "
                          f'{train + zero_shot}')
    return robot


def check_observation_record(state: dict, robots: list[str], obs_mode: str) -> None:
    """Refuse a checkpoint trained on another observation than the robots' observation now.

    The card records the robot's observation as it is today; a network trained on clipped
    velocities (the family's clip since changed), or on limb tokens holding the lateral
    position the family now drops, would be served another input. A checkpoint without a
    velocity record passes; one without a lateral record was trained on tokens with y (a
    flat observation drops nothing: its lateral position is always true).
    """
    clips, lateral = ({split_env_id(name)[0]: value for name, value in state.get(key, {}).items()}
                      for key in ('velocity_clips', 'lateral_positions'))
    for robot in sorted({split_env_id(r)[0] for r in robots}):
        now = ObservationBuilder(get_robot(robot), obs_mode)
        if robot in clips and clips[robot] != now.velocity_clip:
            raise ExportError(f"the checkpoint was trained on {robot}'s velocities clipped to "
                              f'{clips[robot]}; its observation now clips to '
                              f'{now.velocity_clip}: resume the run on the new observation and '
                              'export a later checkpoint')
        trained = lateral.get(robot, True)  # before the record, every token held y
        if trained != now.lateral_position:
            raise ExportError(f"the checkpoint was trained on {robot}'s limb tokens "
                              f"{'with' if trained else 'without'} the lateral position; its "
                              f"observation now {'holds' if now.lateral_position else 'drops'} "
                              'it: resume the run on the new observation and export a later '
                              'checkpoint')


def export_checkpoint(source: str | Path, out: str | Path, *, name: str | None = None,
                      machine: str | None = None, robot: str | None = None,
                      default_robot: str | None = None) -> PolicyCard:
    """Write ``out`` (.onnx + .card.yaml) from a run directory or checkpoint file.

    A run over a set of robots exports one graph per call, for ``robot``, or with ``robot``
    'all' one graph for every robot of the run (:func:`multi_robot_card`), whose card runs
    ``default_robot`` when no robot is named (default: the first training robot).
    """
    path = resolve_checkpoint(source)
    state = load_checkpoint(path)
    run_config = config_from_dict(state['config'])
    if default_robot is not None and robot != ALL_ROBOTS:
        raise ExportError(f"a default robot ('{default_robot}') is for a graph serving all "
                          f"robots (--robot {ALL_ROBOTS})")
    if robot != ALL_ROBOTS:
        robot = export_robot(run_config, robot)
    train, zero_shot = run_config.robot_split()
    check_observation_record(state, train + zero_shot if robot == ALL_ROBOTS else [robot],
                             run_config.obs_mode)
    config = run_config.to_dict()  # older configs: hidden_sizes -> policy
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
    if config['distill']['steps']:  # the experts it imitated first, then PPO
        training['distillation'] = config['distill']
    header = {'name': name or Path(out).stem, 'method': config['algorithm'],
              'obs_mode': config['obs_mode'], 'training': training,
              'normalization': _normalization(agent)}
    if robot == ALL_ROBOTS:
        training['robots'] = {'train': train, 'zero_shot': zero_shot}
        robots = train + zero_shot
        if default_robot is not None:
            if default_robot in zero_shot:  # a robot named nothing runs on, never trained on
                raise ExportError(f"default robot '{default_robot}' is a zero-shot robot of run "
                                  f'{run_config.name}: name one of its training robots {train}')
            robots.remove(export_robot(run_config, default_robot))
            robots.insert(0, default_robot)
        card = multi_robot_card(agent, robots, **header)
        samples = {r: sample_observations(agent, r, config['obs_mode']) for r in card.robots}
        export_policy(agent.policy(card.robot), card, out, sample_observations=samples)
        return card
    sections = graph_sections(agent, robot)
    training['environment'] = robot  # the robot, and its task for a multi-task run
    card = PolicyCard.for_robot(get_robot(split_env_id(robot)[0]), **header, **sections)
    samples = sample_observations(agent, robot, config['obs_mode'])
    export_policy(agent.policy(robot), card, out, sample_observations=samples)
    return card


def multi_robot_card(agent, robots: list[str], **header) -> PolicyCard:
    """Card of one graph serving every robot of ``robots`` (the first is the default).

    Each robot's graph must be the same up to the sizes that vary between robots (named in
    the card), with the same tasks; each robot's synergy structure goes in
    ``synergy.variants``, the one copy its graph's ``synergy.<key>`` inputs are fed from.
    """
    if len({split_env_id(r)[0] for r in robots}) != len(robots):
        raise ExportError(f'one graph for {robots} would serve one robot under several tasks; '
                          'export one policy per task (--robot)')
    sections = {robot: graph_sections(agent, robot) for robot in robots}
    default = sections[robots[0]]
    onnx = variable_signature(default['onnx'])
    for robot, section in sections.items():
        if variable_signature(section['onnx']) != onnx or section['tasks'] != default['tasks']:
            raise ExportError(f"the policy's graph for '{robot}' differs from the one for "
                              f"'{robots[0]}' beyond the robot's sizes: export it per robot")
    synergy = default['synergy'] and {
        **default['synergy'], 'variants': {r: s['synergy'] for r, s in sections.items()}}
    return PolicyCard.for_robots([get_robot(r) for r in robots], onnx=onnx, synergy=synergy,
                                 tasks=default['tasks'], **header)
