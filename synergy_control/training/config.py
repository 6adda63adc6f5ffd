"""Training configuration: dataclasses loaded from YAML, validated before anything runs.

Every key is checked for existence, type and range, and an error names the key, e.g.
``config key 'td3.policy_noise': expected a number >= 0, got 'abc'``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from synergy_control.settings import NONNEG, POSITIVE, TAU, UNIT, WIDTHS, ConfigError, option

# YAML 1.1 (PyYAML) reads 3e-4 as a string; accept such plain decimal/scientific numbers
NUMBER = re.compile(r'[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?')


@dataclass
class TD3Config:
    """TD3 specifics (Fujimoto et al. 2018 defaults)."""

    policy_noise: float = option(0.2, NONNEG)
    noise_clip: float = option(0.5, NONNEG)
    policy_delay: int = option(2, POSITIVE)
    exploration_noise: float = option(0.1, NONNEG)


@dataclass
class SACConfig:
    """SAC specifics; ``target_entropy: null`` means −|A|."""

    init_alpha: float = option(1.0, POSITIVE)
    autotune: bool = True
    target_entropy: float | None = None


@dataclass
class CrossQConfig:
    """CrossQ specifics (Bhatt et al. 2024; sb3-contrib's defaults but for the critic width).

    SAC's entropy settings (``sac:``) apply. The critics are batch-renormalised MLPs of
    ``critic_hidden_sizes`` (the paper's 2048 x 2, sb3-contrib's 1024 x 2: wide layers are
    slow on 2 CPU cores), plain batch normalisation for ``bn_warmup_steps`` updates; no target
    networks; the actor is updated every ``policy_delay`` critic updates; Adam's β1 is
    ``adam_beta1`` for actor and critic.
    """

    critic_hidden_sizes: list[int] = option([1024, 1024], WIDTHS)
    policy_delay: int = option(3, POSITIVE)
    adam_beta1: float = option(0.5, UNIT)
    bn_warmup_steps: int = option(100_000, NONNEG)


@dataclass
class PPOConfig:
    """PPO specifics, rsl_rl / rl_games habits (their MuJoCo humanoid settings by default).

    One iteration collects ``rollout_steps`` steps of each of the run's ``num_envs``
    environments, then runs ``epochs`` passes of ``minibatches`` minibatches over them.
    ``desired_kl`` adapts the learning rate to the measured KL divergence (rsl_rl's
    schedule; null keeps ``learning_rate`` fixed). Rewards are multiplied by
    ``reward_scale`` for learning only (logged returns stay raw); ``normalize_value`` fits the
    value in units of the running return statistics.
    """

    rollout_steps: int = option(64, POSITIVE)
    epochs: int = option(4, POSITIVE)
    minibatches: int = option(4, POSITIVE)
    learning_rate: float = option(3e-4, POSITIVE)
    desired_kl: float | None = option(0.008, POSITIVE)
    clip: float = option(0.2, POSITIVE)
    gae_lambda: float = option(0.95, UNIT)
    value_coef: float = option(1.0, NONNEG)
    entropy_coef: float = option(0.0, NONNEG)
    max_grad_norm: float = option(0.5, POSITIVE)
    init_log_std: float = 0.0
    reward_scale: float = option(0.1, POSITIVE)
    normalize_value: bool = True
    value_hidden_sizes: list[int] = option([512, 256, 128], WIDTHS)
    value_activation: Literal['relu', 'elu'] = 'elu'


@dataclass
class DistillConfig:
    """Expert distillation before PPO (DAgger, Ross et al. 2011; issue 20's path c).

    For the first ``steps`` environment steps of a PPO run, every rollout is collected with the
    student's own Gaussian (DAgger's states are the learner's), each state labelled with the
    action of its robot's expert (``teachers``: exported ONNX policies, one per training
    robot, matched by the robot their card names), and the update fits the student's mean
    to those labels (``bc_coef`` × masked mean squared error) instead of the clipped
    surrogate; the value function learns from the same rollouts, so PPO takes over with a
    fitted critic. Zero-shot robots get no teacher: they stay held out. Imitation takes many
    more gradient steps per sample than PPO's surrogate: while distilling, each rollout gets
    ``epochs`` passes at a fixed ``learning_rate``; PPO then starts from
    ``ppo.learning_rate``.

    Kickstarting (Schmitt et al. 2018) keeps the experts after that: for ``kickstart_steps``
    more environment steps they go on labelling the student's states and PPO's loss gains
    ``kickstart_coef`` × the imitation loss, the weight falling linearly to zero. PPO alone
    undid the distillation on Walker++ and Humanoid2D++ (the zero-shot robots first); the
    term holds the policy near the experts while the surrogate learns to improve on them.
    """

    teachers: list[str] = option([])
    steps: int = option(0, NONNEG)
    bc_coef: float = option(1.0, POSITIVE)
    epochs: int = option(15, POSITIVE)
    learning_rate: float = option(1e-3, POSITIVE)
    kickstart_steps: int = option(0, NONNEG)
    kickstart_coef: float = option(0.0, NONNEG)

    @property
    def teaching_steps(self) -> int:
        """Environment steps the experts label: distillation, then kickstarting."""
        return self.steps + self.kickstart_steps

    def kickstart_weight(self, env_steps: int) -> float:
        """Return the imitation term's weight in PPO's loss at ``env_steps`` (0 outside it)."""
        if not self.kickstart_steps or not self.steps <= env_steps < self.teaching_steps:
            return 0.0
        return self.kickstart_coef * (1.0 - (env_steps - self.steps) / self.kickstart_steps)


@dataclass
class PolicyConfig:
    """The ``policy:`` section: a registered architecture and its validated settings."""

    name: str = 'mlp'
    settings: Any = None  # the builder's Settings dataclass instance


@dataclass
class HookConfig:
    """One ``hooks:`` entry: a registered hook run every ``every`` environment steps."""

    name: str
    every: int
    settings: Any = None  # the hook's Settings dataclass instance


@dataclass
class Config:
    """A training run. ``name`` defaults to the YAML file's stem.

    ``robot`` names one variant; ``robots`` a morphology set (``walker++``) or a list of
    variants, split into training and zero-shot robots by their families (give one of them).
    ``tasks`` (with ``robot``) trains the robot on several tasks at once, one environment,
    replay and evaluation each: a task set (``half_cheetah_vel``) or a list (``vel:3.0``).

    ``num_envs`` (PPO) steps that many environments as one batch, cycling through the
    training robots or tasks. ``num_threads`` 0 lets torch use every core; ``matmul: auto``
    takes oneDNN's fp32 matmuls where a probe measures them exact and faster
    (:mod:`synergy_control.training.compute`).
    """

    robot: str | None = None
    robots: str | list[str] | None = None
    tasks: str | list[str] | None = None
    algorithm: Literal['td3', 'sac', 'crossq', 'ppo'] = 'td3'
    name: str = ''
    obs_mode: Literal['flat', 'modular'] = 'flat'
    seed: int = option(0, NONNEG)
    total_steps: int = option(1_000_000, POSITIVE)
    start_steps: int = option(10_000, NONNEG)
    batch_size: int = option(256, POSITIVE)
    buffer_size: int = option(1_000_000, POSITIVE)
    keep_buffer: bool = False
    updates_per_step: float = option(1.0, POSITIVE)
    gamma: float = option(0.99, UNIT)
    tau: float = option(0.005, TAU)
    actor_lr: float = option(3e-4, POSITIVE)
    critic_lr: float = option(3e-4, POSITIVE)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    hooks: list[HookConfig] = field(default_factory=list)
    normalize_obs: bool = False
    eval_every: int = option(10_000, POSITIVE)
    eval_episodes: int = option(10, POSITIVE)
    checkpoint_every: int = option(50_000, POSITIVE)
    log_every: int = option(1_000, POSITIVE)
    device: str = 'cpu'
    num_threads: int = option(0, NONNEG)
    matmul: Literal['auto', 'default', 'onednn'] = 'auto'
    num_envs: int = option(1, POSITIVE)
    td3: TD3Config = field(default_factory=TD3Config)
    sac: SACConfig = field(default_factory=SACConfig)
    crossq: CrossQConfig = field(default_factory=CrossQConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)

    def to_dict(self) -> dict:
        """Return the plain nested dict (YAML / checkpoint form): settings inlined."""
        data = dataclasses.asdict(self)
        data['policy'] = {'name': self.policy.name, **data['policy']['settings']}
        data['hooks'] = [{'name': h.name, 'every': h.every, **dataclasses.asdict(h.settings)}
                         for h in self.hooks]
        return data

    def robot_split(self) -> tuple[list[str], list[str]]:
        """Return the training and the zero-shot robots of the run."""
        from synergy_control.envs import env_id
        from synergy_control.robots import FAMILIES, MORPHOLOGY_SETS, Task, family_of, task_set
        if self.robot is not None and self.tasks is not None:
            tasks = task_set(self.tasks).train if isinstance(self.tasks, str) else self.tasks
            return [env_id(self.robot, Task.parse(task)) for task in tasks], []
        if self.robot is not None:
            return [self.robot], []
        if isinstance(self.robots, str):
            family = FAMILIES[MORPHOLOGY_SETS[self.robots]]
            names = [v.name for v in family.variants]
        else:
            names = list(self.robots or [])
        zero_shot = [n for n in names if n in family_of(n).zero_shot]
        return [n for n in names if n not in zero_shot], zero_shot


def _describe(tp: Any) -> str:
    """Word an annotation for error messages."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return 'one of ' + ', '.join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return ' or '.join('null' if a is type(None) else _describe(a) for a in args)
    if origin is list:
        return f"a list of {_describe(args[0]).split(' ', 1)[1]}s"
    return {int: 'an integer', float: 'a number', bool: 'a boolean', str: 'a string'}[tp]


def _type_ok(value: Any, tp: Any) -> bool:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return value in args
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in args)
    if origin is list:
        return isinstance(value, list) and all(_type_ok(v, args[0]) for v in value)
    if tp is type(None):
        return value is None
    if isinstance(value, bool):  # bool is an int subclass: accept it only where meant
        return tp is bool
    if tp is float:
        return isinstance(value, (int, float)) or (
            isinstance(value, str) and NUMBER.fullmatch(value) is not None)
    return isinstance(value, tp)


def _build(cls: type, data: Any, prefix: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping, validating every key."""
    where = prefix.rstrip('.') or 'config'
    if not isinstance(data, dict):
        raise ConfigError(f"config key '{where}': expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"config key '{prefix}{unknown[0]}': unknown key "
                          f"(known: {', '.join(fields)})")
    kwargs = {}
    for name, f in fields.items():
        key = prefix + name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"config key '{key}': required")
            continue
        value, tp = data[name], hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, value, key + '.')
            continue
        check = f.metadata.get('check')
        if _type_ok(value, float) and float in typing.get_args(tp) + (tp,):
            value = float(value)
            if not math.isfinite(value):  # inf passes every range check, then trains to NaN
                raise ConfigError(f"config key '{key}': expected a finite number, got {value!r}")
        if not _type_ok(value, tp) or (check and value is not None and not check[1](value)):
            rule = f' {check[0]}' if check else ''
            raise ConfigError(f"config key '{key}': expected {_describe(tp)}{rule}, "
                              f'got {value!r}')
        kwargs[name] = value
    return cls(**kwargs)


def _registered_settings(kind: str, registry: Any, data: Any, key: str,
                         extra: tuple[str, ...] = ()) -> tuple[str, dict, Any]:
    """Validate ``{name: ..., <settings>}`` against the Settings of the registered ``name``."""
    if not isinstance(data, dict):
        raise ConfigError(f"config key '{key}': expected a mapping, got {data!r}")
    data = dict(data)
    name = data.pop('name', 'mlp' if kind == 'policy' else None)
    if name is None:
        raise ConfigError(f"config key '{key}.name': required")
    try:
        entry = registry.get(name)
    except ValueError as err:
        raise ConfigError(f"config key '{key}.name': {err}") from None
    fixed = {k: data.pop(k) for k in extra if k in data}
    return name, fixed, _build(entry.Settings, data, key + '.')


def _policy(data: dict) -> PolicyConfig:
    """Validate the ``policy:`` section; a top-level ``hidden_sizes`` (older configs) is MLP's."""
    from synergy_control.policies.registry import POLICIES
    section = data.pop('policy', {})
    if 'hidden_sizes' in data:
        legacy = data.pop('hidden_sizes')
        if not isinstance(section, dict) or section.get('name', 'mlp') != 'mlp' \
                or 'hidden_sizes' in section:
            raise ConfigError("config key 'hidden_sizes': give it as policy.hidden_sizes")
        section = {**section, 'hidden_sizes': legacy}
    name, _, settings = _registered_settings('policy', POLICIES, section, 'policy')
    return PolicyConfig(name, settings)


def _hooks(data: Any) -> list[HookConfig]:
    from synergy_control.training.hooks import HOOKS
    if not isinstance(data, list):
        raise ConfigError(f"config key 'hooks': expected a list of mappings, got {data!r}")
    hooks = []
    for i, entry in enumerate(data):
        key = f'hooks[{i}]'
        name, fixed, settings = _registered_settings('hook', HOOKS, entry, key, ('every',))
        every = fixed.get('every')
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigError(f"config key '{key}.every': expected an integer > 0 "
                              f'(environment steps), got {every!r}')
        hooks.append(HookConfig(name, every, settings))
    return hooks


def _check_robots(config: Config) -> None:
    from synergy_control.robots import MORPHOLOGY_SETS, variant_names  # loads robot tables
    if (config.robot is None) == (config.robots is None):
        raise ConfigError("config key 'robot': required (or 'robots': a morphology set or a "
                          'list of variants), not both')
    if config.robot is not None and config.robot not in variant_names():
        raise ConfigError(f"config key 'robot': expected one of {variant_names()}, "
                          f'got {config.robot!r}')
    if isinstance(config.robots, str) and config.robots not in MORPHOLOGY_SETS:
        raise ConfigError(f"config key 'robots': expected a morphology set "
                          f'({", ".join(MORPHOLOGY_SETS)}) or a list of variants, '
                          f'got {config.robots!r}')
    if isinstance(config.robots, list):
        for i, name in enumerate(config.robots):
            if name not in variant_names() or name in config.robots[:i]:
                raise ConfigError(f"config key 'robots[{i}]': expected one of "
                                  f'{variant_names()} (each once), got {name!r}')
        if not config.robot_split()[0]:
            raise ConfigError("config key 'robots': every variant listed is a zero-shot one; "
                              'a run needs at least one training robot')
    if config.tasks is not None:
        _check_tasks(config)


def _check_tasks(config: Config) -> None:
    from synergy_control.robots import TASK_SETS, Task, family_of  # loads robot tables
    if config.robot is None:
        raise ConfigError("config key 'tasks': needs 'robot' (one robot on several tasks)")
    if isinstance(config.tasks, str):
        if config.tasks not in TASK_SETS:
            raise ConfigError(f"config key 'tasks': expected a task set ({', '.join(TASK_SETS)})"
                              f' or a list of tasks, got {config.tasks!r}')
        if TASK_SETS[config.tasks].family != family_of(config.robot).name:
            raise ConfigError(f"config key 'tasks': task set {config.tasks!r} is for the "
                              f"{TASK_SETS[config.tasks].family} family, not {config.robot!r}")
        return
    if not config.tasks:
        raise ConfigError("config key 'tasks': expected a task set or a non-empty list")
    for i, task in enumerate(config.tasks):
        try:
            family_of(config.robot).task_spec(Task.parse(task))
        except (KeyError, ValueError) as error:
            raise ConfigError(f"config key 'tasks[{i}]': {error}") from None
        if str(Task.parse(task)) in [str(Task.parse(t)) for t in config.tasks[:i]]:
            raise ConfigError(f"config key 'tasks[{i}]': {task!r} is listed twice")


def config_from_dict(data: dict, name: str = '') -> Config:
    """Validate a nested dict into a :class:`Config` (``name`` fills an empty name)."""
    if not isinstance(data, dict):
        raise ConfigError(f"config: expected a mapping, got {data!r}")
    data = dict(data)
    policy = _policy(data)
    hooks = _hooks(data.pop('hooks', []))
    config = _build(Config, data, '')
    config.policy, config.hooks = policy, hooks
    _check_robots(config)
    if config.num_envs > 1 and config.algorithm != 'ppo':
        raise ConfigError(f"config key 'num_envs': {config.algorithm} steps one environment "
                          f'per training robot; vectorised environments are for ppo, '
                          f'got {config.num_envs}')
    if config.algorithm == 'ppo' and config.hooks:
        raise ConfigError("config key 'hooks': ppo runs no hooks: the one there is, SOLAR's "
                          're-clustering, needs an action value (ΔQ) from twin critics and a '
                          'replay, which PPO does not learn; without it the synergies stay '
                          "the limb graph's affinity clustering (or train with td3)")
    distill = config.distill
    if distill.steps and config.algorithm != 'ppo':
        raise ConfigError("config key 'distill.steps': distillation is the first phase of a "
                          f'ppo run, got algorithm {config.algorithm}')
    if distill.kickstart_steps and config.algorithm != 'ppo':
        raise ConfigError("config key 'distill.kickstart_steps': kickstarting adds to PPO's "
                          f'loss, got algorithm {config.algorithm}')
    if distill.teaching_steps and not distill.teachers:
        raise ConfigError("config key 'distill.teachers': distill.steps or kickstart_steps > 0 "
                          'needs one exported expert (.onnx) per training robot')
    if bool(distill.kickstart_steps) != bool(distill.kickstart_coef):
        raise ConfigError("config key 'distill.kickstart_coef': kickstarting needs both "
                          f'kickstart_steps and kickstart_coef > 0, got {distill.kickstart_steps}'
                          f' steps and coefficient {distill.kickstart_coef}')
    if config.batch_size > config.buffer_size:
        raise ConfigError(f"config key 'batch_size': expected <= buffer_size "
                          f'({config.buffer_size}), got {config.batch_size}')
    if config.device.split(':')[0] not in ('cpu', 'cuda', 'mps'):
        raise ConfigError(f"config key 'device': expected 'cpu', 'cuda[:N]' or 'mps', "
                          f'got {config.device!r}')
    target = config.robot or (config.robots if isinstance(config.robots, str) else 'robots')
    config.name = config.name or name or f'{target}_{config.algorithm}'
    return config


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key given twice (plain PyYAML keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f'duplicate key {key!r}', key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file (duplicate keys refused)."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(), Loader=UniqueKeyLoader) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"config file '{path}': invalid YAML: {err}") from err
    return config_from_dict(data, name=path.stem)


def save_config(config: Config, path: str | Path) -> None:
    """Write the fully resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
