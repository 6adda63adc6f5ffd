"""The training loop: environment interaction, updates, evaluation, logging, checkpoints.

A run directory holds ``config.yaml``, ``metrics.csv``, TensorBoard events under ``tb/`` and
``checkpoints/{last,best}.pt``. ``--resume RUN_DIR`` continues from ``last.pt`` with the saved
config and counters; metrics logged after that checkpoint are dropped and logging appends.
A resumed run starts a fresh episode (the simulator state is not checkpointed).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import math
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from synergy_control.envs import LocomotionEnv, make_env
from synergy_control.policies.registry import PolicyContext
from synergy_control.rollout import rollout
from synergy_control.training.agent import OffPolicyAgent
from synergy_control.training.buffers import MultiReplayBuffer, ReplayBuffer, available_memory
from synergy_control.training.checkpoint import (CheckpointError, load_checkpoint, make_agent,
                                                 remove_stale_temporaries, save_checkpoint)
from synergy_control.training.compute import configure_cpu
from synergy_control.training.config import (Config, ConfigError, config_from_dict, load_config,
                                             save_config)
from synergy_control.training.hooks import HOOKS, Hook
from synergy_control.training.distill import Teachers
from synergy_control.training.ppo import PPO, collect
from synergy_control.training.vec_env import VectorEnv

EPISODE_COLUMNS = ('episode', 'episode_return', 'episode_length')
EVAL_COLUMNS = ('eval_mean', 'eval_std', 'eval_length')
EVAL_SEED_BASE = 10_000  # eval episode i of a run with seed s resets with 10000 + 1000 s + i


class MetricsLog:
    """Rows of metrics.csv (episodes, losses, evaluations), mirrored to TensorBoard."""

    def __init__(self, run_dir: Path, loss_names: Sequence[str], resume_step: int | None,
                 extra_columns: Sequence[str] = ()):
        self.columns = ['step', 'wall_time', *EPISODE_COLUMNS, 'updates', *loss_names,
                        *EVAL_COLUMNS, *extra_columns]
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / 'metrics.csv'
        fresh = resume_step is None or not path.exists()
        if not fresh:
            self._drop_after(path, resume_step)
        self.file = open(path, 'w' if fresh else 'a', newline='')
        self.writer = csv.DictWriter(self.file, self.columns)
        if fresh:
            self.writer.writeheader()
            self.file.flush()
        self.tb = SummaryWriter(str(run_dir / 'tb'), purge_step=resume_step)

    def _drop_after(self, path: Path, step: int) -> None:
        """Keep rows up to the resumed checkpoint's step (and drop a torn last line)."""
        with open(path, newline='') as f:
            rows = list(csv.reader(f))
        kept = rows[:1] + [r for r in rows[1:]
                           if len(r) == len(self.columns) and r[0].isdigit() and int(r[0]) <= step]
        tmp = path.with_suffix('.csv.tmp')
        with open(tmp, 'w', newline='') as f:
            csv.writer(f).writerows(kept)
        os.replace(tmp, path)

    def write(self, group: str, step: int, wall_time: float, values: dict[str, float]) -> None:
        """One CSV row (blank cells for other columns) and one TensorBoard scalar per value."""
        self.writer.writerow({'step': step, 'wall_time': f'{wall_time:.3f}', **values})
        self.file.flush()
        for key, value in values.items():
            self.tb.add_scalar(f'{group}/{key}', value, step)

    def close(self) -> None:
        """Flush and close the CSV file and the TensorBoard writer."""
        self.file.close()
        self.tb.close()


class StopRequest:
    """Turns the first SIGINT / SIGTERM into a flag the loop checks; a second SIGINT aborts."""

    def __init__(self) -> None:
        self.signal: str | None = None

    def __call__(self, signum: int, frame: object) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Install as the SIGINT/SIGTERM handler (main thread only), restore afterwards."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def evaluate(agent: OffPolicyAgent, env: LocomotionEnv, seeds: Sequence[int],
             name: str | None = None) -> dict[str, float]:
    """Deterministic-policy return over one episode per seed (``name``: the env's id)."""
    policy = functools.partial(agent.act, deterministic=True, robot=name or env.robot.name)
    episodes = [rollout(env, policy, seed) for seed in seeds]
    returns, lengths = [e.episode_return for e in episodes], [e.length for e in episodes]
    return {'eval_mean': float(np.mean(returns)), 'eval_std': float(np.std(returns)),
            'eval_length': float(np.mean(lengths))}


class TrainingDiverged(RuntimeError):
    """Losses or weights became non-finite: the run stops and keeps its last good checkpoint."""


def allocate_replay(dims: dict[str, tuple[int, int]], capacity: int,
                    device: torch.device, width: tuple[int, int] = (0, 0)) -> MultiReplayBuffer:
    """Allocate one replay per training robot, refusing a ``buffer_size`` that cannot fit.

    Rows are padded to ``width`` (the networks' input and output) when it is wider than every
    training robot.

    The whole capacity is allocated up front; an estimate against the free memory catches
    sizes that the OS would grant lazily and then kill the run for, half-way through.
    """
    obs_dim, act_dim = (max(width[i], *(d[i] for d in dims.values())) for i in (0, 1))
    need = len(dims) * capacity * ReplayBuffer.row_bytes(obs_dim, act_dim)
    free = available_memory(device)
    if free is not None and need > free:
        raise ConfigError(f"config key 'buffer_size': {capacity} transitions per robot need "
                          f'{need / 2**30:.1f} GiB on {device}, {free / 2**30:.1f} GiB available')
    try:
        return MultiReplayBuffer(dims, capacity, device, width)
    except (RuntimeError, MemoryError) as err:
        raise ConfigError(f"config key 'buffer_size': cannot allocate {capacity} transitions "
                          f'on {device}: {err}') from err


def crossed(before: int, now: int, every: int) -> bool:
    """Whether the step count passed a multiple of ``every`` (a set steps several at once)."""
    return now // every > before // every


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch (all devices); the generator draws the random actions."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


@dataclass
class RobotSlot:
    """One training robot of a run: its environment and its episode in progress."""

    name: str
    env: LocomotionEnv
    obs: np.ndarray | None = None
    episode_return: float = 0.0
    episode_length: int = 0


class Trainer:
    """One run: owns the envs, agent, buffers, hooks, counters and logs of a run directory.

    A run drives one robot or a set: every training robot's environment is stepped once per
    iteration, each into its own replay, followed by ``updates_per_step`` updates per
    transition collected (a fraction such as EAR's 0.1 accumulates across iterations) on
    batches balanced across robots. Zero-shot robots only get
    evaluation environments: they are never stepped in training, stored, or fed to the
    normaliser. Per-robot columns (``eval_mean/<robot>``, ``env_steps/<robot>``, ...) are
    logged for sets only, so a single-robot run's metrics.csv keeps its columns.
    """

    def __init__(self, config: Config, run_dir: Path, device: str, state: dict | None = None,
                 progress: bool | None = None):
        self.config, self.run_dir, self.device = config, run_dir, torch.device(device)
        if self.device.type == 'cpu':
            configure_cpu(config.num_threads, config.matmul)
        self.rng = seed_everything(config.seed)
        self.train_names, zero_shot = config.robot_split()
        self.context = PolicyContext.build(self.train_names, zero_shot, config.obs_mode)
        self.eval_envs = {name: make_env(name, config.obs_mode) for name in self.context.names}
        self.agent = make_agent(config, self.device, self.context)
        self.slots: list[RobotSlot] = []
        self.buffer: MultiReplayBuffer | None = None
        self._build_collection()
        self.hooks: list[Hook] = [HOOKS.get(h.name)(h.settings) for h in config.hooks]
        self.eval_seeds = [EVAL_SEED_BASE + 1000 * config.seed + i
                           for i in range(config.eval_episodes)]
        self.env_steps = self.episodes = 0
        self.update_credit = 0.0  # updates owed; fractional updates_per_step accumulate here
        self.robot_steps = dict.fromkeys(self.context.names, 0)
        self.wall_offset = 0.0
        self.last_eval: dict[str, float] = {}
        self.best_eval = -math.inf
        self.metrics: dict[str, torch.Tensor] = {}  # the latest update's losses (detached)
        self.saved_step: int | None = None  # env step of the newest last.pt on disk
        remove_stale_temporaries(run_dir / 'checkpoints')
        if state is not None:
            self.restore(state)
        self.log = MetricsLog(run_dir, self.agent.metric_names,
                              self.env_steps if state is not None else None,
                              self._robot_columns())
        show = sys.stderr.isatty() if progress is None else progress
        self.bar = tqdm(total=config.total_steps, initial=self.env_steps, unit='step',
                        disable=not show, dynamic_ncols=True, smoothing=0.05)
        self.t0 = time.perf_counter()

    def _build_collection(self) -> None:
        """One environment and one replay per training robot (off-policy collection)."""
        self.slots = [RobotSlot(name, make_env(name, self.config.obs_mode))
                      for name in self.train_names]
        ctx = self.context
        self.buffer = allocate_replay(
            {name: (o, a) for name, o, a in zip(ctx.names, ctx.obs_dims, ctx.act_dims)
             if name in self.train_names},
            self.config.buffer_size, self.device, (ctx.obs_dim, ctx.act_dim))

    @property
    def is_set(self) -> bool:
        """Whether the run drives several robots (per-robot metric columns)."""
        return len(self.context.robots) > 1

    def _robot_columns(self) -> list[str]:
        if not self.is_set:
            return []
        names = self.context.names
        return ['eval_zero_shot_mean',
                *(f'episode_return/{n}' for n in self.train_names),
                *(f'env_steps/{n}' for n in names),
                *(f'{c}/{n}' for n in names for c in EVAL_COLUMNS)]

    # ------------------------------------------------------------------ state
    @property
    def wall_time(self) -> float:
        """Seconds of training so far, summed over every resumed session."""
        return self.wall_offset + time.perf_counter() - self.t0

    def checkpoint_state(self) -> dict:
        """Everything needed to continue the run exactly where the counters say."""
        rng = {'python': random.getstate(), 'numpy': self.rng.bit_generator.state,
               'torch': torch.get_rng_state()}
        if torch.cuda.is_available():
            rng['cuda'] = torch.cuda.get_rng_state_all()
        state = {'config': self.config.to_dict(), 'agent': self.agent.state_dict(),
                 'optimizers': self.agent.optimizer_state(),
                 'counters': {'env_steps': self.env_steps, 'updates': self.agent.updates,
                              'episodes': self.episodes, 'robot_steps': self.robot_steps,
                              'update_credit': self.update_credit},
                 'rng': rng, 'last_eval': self.last_eval, 'best_eval': self.best_eval,
                 'wall_time': self.wall_time, **self.observation_record,
                 'hooks': [hook.state_dict() for hook in self.hooks]}
        if self.config.keep_buffer and self.buffer is not None:
            state['buffer'] = self.buffer.state_dict()
        return state

    @property
    def observation_record(self) -> dict[str, dict]:
        """Each robot's observation facts that a family may change: what the networks saw.

        ``velocity_clips`` (the flat layout's qvel clip) and ``lateral_positions`` (whether
        the limb tokens hold y); a checkpoint without a record predates it.
        """
        envs = self.eval_envs.items()
        return {'velocity_clips': {name: env.observe.velocity_clip for name, env in envs},
                'lateral_positions': {name: env.observe.lateral_position for name, env in envs}}

    def restore(self, state: dict) -> None:
        """Load a checkpoint's networks, optimisers, counters, RNG, hooks and (if kept) buffer.

        A checkpoint trained on another velocity clip or lateral position (the family's
        changed since) is resumed on today's observation, with a warning: the run fine-tunes
        to it, and its later checkpoints record the new one.
        """
        record = self.observation_record
        for key, fact in (('velocity_clips', 'velocity clip'),
                          ('lateral_positions', 'lateral position')):
            now = record[key]
            changed = {name: value for name, value in state.get(key, {}).items()
                       if name in now and value != now[name]}
            if changed:
                print(f'warning: the observation {fact} of {", ".join(changed)} was '
                      f'{", ".join(sorted({str(c) for c in changed.values()}))} in the '
                      f'checkpoint and is {", ".join(sorted({str(now[n]) for n in changed}))} '
                      'now: training goes on with the new one', file=sys.stderr)
        self.agent.load_state_dict(state['agent'])
        self.agent.load_optimizer_state(state['optimizers'])
        counters = state['counters']
        self.env_steps, self.episodes = counters['env_steps'], counters['episodes']
        self.robot_steps.update(counters.get('robot_steps', {self.train_names[0]:
                                                             self.env_steps}))
        self.agent.updates = counters['updates']
        self.update_credit = counters.get('update_credit', 0.0)
        self.last_eval, self.best_eval = state['last_eval'], state['best_eval']
        self.wall_offset = state['wall_time']
        self.saved_step = self.env_steps
        rng = state['rng']
        random.setstate(rng['python'])
        self.rng.bit_generator.state = rng['numpy']
        torch.set_rng_state(rng['torch'])
        if 'cuda' in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng['cuda'])
        if 'buffer' in state:
            self.buffer.load_state_dict(state['buffer'])
        for hook, hook_state in zip(self.hooks, state.get('hooks', [])):
            hook.load_state_dict(hook_state)
        self._set_aside_newer_best()

    def _set_aside_newer_best(self) -> None:
        """Rename a best.pt from after the resumed checkpoint (its metrics rows are dropped).

        An unreadable best.pt (killed mid-copy, disk full) is set aside too, with a warning:
        it must neither block the resume nor be exported later.
        """
        best = self.run_dir / 'checkpoints' / 'best.pt'
        if not best.exists():
            return
        try:
            newer = load_checkpoint(best)['counters']['env_steps'] > self.env_steps
            aside = best.with_name(f'best_abandoned_after_{self.env_steps}.pt')
        except CheckpointError as err:
            print(f'warning: {err}; set aside as best_unreadable.pt', file=sys.stderr)
            newer, aside = True, best.with_name('best_unreadable.pt')
        if newer:
            best.replace(aside)

    def save(self, name: str) -> None:
        """Atomically write ``checkpoints/<name>.pt``, never with non-finite weights."""
        self.check_finite()
        save_checkpoint(self.checkpoint_state(), self.run_dir / 'checkpoints' / f'{name}.pt')
        if name == 'last':
            self.saved_step = self.env_steps

    def check_finite(self, values: dict[str, float] | None = None) -> None:
        """Raise :class:`TrainingDiverged`, naming the step and the loss, on a non-finite value.

        ``values`` are losses already read at a log point. Without them (before every
        checkpoint) the latest losses and every weight tensor are checked on the device,
        with one sync: a NaN never reaches a written checkpoint.
        """
        if values is not None:
            bad = [f'{k} = {v}' for k, v in values.items() if not math.isfinite(v)]
        else:
            tensors = {**self.metrics, **{f"weights '{name}'": p
                                          for name, p in self.agent.named_parameters()}}
            finite = torch.stack([torch.isfinite(t).all() for t in tensors.values()]).tolist()
            bad = [f'{k} = {float(tensors[k])}' if tensors[k].dim() == 0 else f'{k} not finite'
                   for k, ok in zip(tensors, finite) if not ok]
        if bad:
            kept = ('no checkpoint written' if self.saved_step is None
                    else f'checkpoints/last.pt of step {self.saved_step} kept')
            raise TrainingDiverged(f'training diverged at step {self.env_steps} (update '
                                   f'{self.agent.updates}): {bad[0]}; run stopped, {kept}')

    # ------------------------------------------------------------------ loop
    def run_evaluation(self) -> None:
        """Evaluate with frozen weights, log, and keep ``best.pt`` for the best mean return.

        A set evaluates every robot, zero-shot ones included; its ``eval_mean``,
        ``eval_std`` and ``eval_length`` are the means over the training robots, and
        ``eval_zero_shot_mean`` the mean return over the zero-shot ones.
        """
        results = {name: evaluate(self.agent, env, self.eval_seeds, name)
                   for name, env in self.eval_envs.items()}
        if not self.is_set:
            values = next(iter(results.values()))
        else:
            train = [results[name] for name in self.train_names]
            values = {c: float(np.mean([r[c] for r in train])) for c in EVAL_COLUMNS}
            zero_shot = [r['eval_mean'] for n, r in results.items()
                         if n not in self.train_names]
            if zero_shot:
                values['eval_zero_shot_mean'] = float(np.mean(zero_shot))
            values.update({f'{c}/{n}': r[c] for n, r in results.items() for c in EVAL_COLUMNS})
        self.last_eval = {'step': self.env_steps, **values}
        self.log.write('eval', self.env_steps, self.wall_time, values)
        self.bar.set_postfix(eval=f"{values['eval_mean']:.1f}", refresh=False)
        if values['eval_mean'] > self.best_eval:
            self.best_eval = values['eval_mean']
            self.save('best')

    def _reset(self, slot: RobotSlot, seed: int | None = None) -> None:
        slot.obs, _ = slot.env.reset(seed=seed)
        slot.episode_return, slot.episode_length = 0.0, 0
        self.agent.observe(slot.obs)

    def _actions(self) -> list[np.ndarray]:
        """Return this iteration's action of every training robot, in slot order.

        Uniform random while a robot has fewer than ``start_steps`` steps; past that, the
        policy's, from one batched actor pass over all those robots (:meth:`act_robots`).
        """
        warming = [self.robot_steps[slot.name] < self.config.start_steps for slot in self.slots]
        acting = [slot for slot, warm in zip(self.slots, warming) if not warm]
        policy = iter(self.agent.act_robots([slot.obs for slot in acting],
                                            [slot.name for slot in acting]) if acting else ())
        return [self.rng.uniform(-1.0, 1.0, self.context.act_dims[index]).astype(np.float32)
                if warm else next(policy) for index, warm in enumerate(warming)]

    def _step(self, slot: RobotSlot, action: np.ndarray) -> None:
        """One environment step of one training robot, stored in that robot's replay."""
        agent = self.agent
        next_obs, reward, terminated, truncated, _ = slot.env.step(action)
        self.buffer.add(slot.name, slot.obs, action, reward, next_obs, terminated)
        agent.observe(next_obs)
        slot.obs = next_obs
        self.env_steps += 1
        self.robot_steps[slot.name] += 1
        slot.episode_return += reward
        slot.episode_length += 1
        self.bar.update()
        if terminated or truncated:
            self._log_episodes([(slot.name, slot.episode_return, slot.episode_length)])
            self._reset(slot)

    def _log_episodes(self, episodes: Sequence[tuple[str, float, int]]) -> None:
        """Count finished training episodes (robot, return, length); log one row of means.

        Off-policy collection ends one episode at a time; a PPO rollout over dozens of
        environments ends hundreds, and a row each made the metrics.csv of a 38-minute run
        6.5 MB. ``episode`` is the running count.
        """
        if not episodes:
            return
        self.episodes += len(episodes)
        names, returns, lengths = zip(*episodes)
        row = {'episode': self.episodes, 'episode_return': float(np.mean(returns)),
               'episode_length': float(np.mean(lengths))}
        if self.is_set:
            for name in set(names):
                row[f'episode_return/{name}'] = float(np.mean(
                    [r for n, r in zip(names, returns) if n == name]))
        self.log.write('episode', self.env_steps, self.wall_time, row)

    def _learning(self) -> bool:
        """Tell whether to update: gated on what the buffers hold, not on env_steps.

        A run resumed without its buffer refills start_steps transitions per robot (with its
        policy) before learning again.
        """
        cfg, buffers = self.config, self.buffer.buffers.values()
        return len(self.buffer) >= cfg.batch_size and all(
            len(b) >= cfg.start_steps for b in buffers)

    def _log_train(self, mark: tuple[float, int]) -> tuple[float, int]:
        """Log the latest losses (one device sync), stop on a non-finite one; return the mark."""
        values = dict(zip(self.metrics, torch.stack(list(self.metrics.values())).tolist()))
        now, updates = time.perf_counter(), self.agent.updates
        steps = {f'env_steps/{n}': v for n, v in self.robot_steps.items()} if self.is_set else {}
        self.log.write('train', self.env_steps, self.wall_time,
                       {'updates': updates, **values, **steps})
        self.check_finite(values)
        self.bar.set_postfix(updates_per_s=f'{(updates - mark[1]) / max(now - mark[0], 1e-9):.0f}',
                             eval=f"{self.last_eval.get('eval_mean', math.nan):.1f}",
                             refresh=False)
        return now, updates

    def run(self, stop: StopRequest) -> None:
        """Interact and learn until ``total_steps`` or a stop request, then checkpoint."""
        cfg, agent = self.config, self.agent
        for i, slot in enumerate(self.slots):
            self._reset(slot, seed=cfg.seed + self.episodes + 1_000_000 * i)
        for hook in self.hooks:
            hook.start(self)
        mark = (time.perf_counter(), agent.updates)
        while self.env_steps < cfg.total_steps and stop.signal is None:
            before = self.env_steps
            for slot, action in zip(self.slots, self._actions()):
                self._step(slot, action)
            if self._learning():
                self.update_credit += cfg.updates_per_step * len(self.slots)
                while self.update_credit >= 1.0:
                    self.metrics = agent.update(self.buffer.sample(cfg.batch_size))
                    self.update_credit -= 1.0
            mark = self._periodic(before, mark)
        self._finish()

    def _periodic(self, before: int, mark: tuple[float, int]) -> tuple[float, int]:
        """Hooks, logs, evaluation and checkpoints due since env step ``before``."""
        cfg = self.config
        for hook, hook_config in zip(self.hooks, cfg.hooks):
            if crossed(before, self.env_steps, hook_config.every):
                hook(self)
        if crossed(before, self.env_steps, cfg.log_every) and self.metrics:
            mark = self._log_train(mark)
        if crossed(before, self.env_steps, cfg.eval_every):
            self.run_evaluation()
        if crossed(before, self.env_steps, cfg.checkpoint_every):
            self.save('last')
        return mark

    def _finish(self) -> None:
        """Evaluate at the end of the budget (unless just done) and write ``last.pt``."""
        cfg = self.config
        if self.env_steps >= cfg.total_steps and self.last_eval.get('step') != self.env_steps:
            self.run_evaluation()
        self.save('last')

    def close(self) -> None:
        """Release environments, progress bar and log files."""
        self.bar.close()
        self.log.close()
        for env in [*(slot.env for slot in self.slots), *self.eval_envs.values()]:
            env.close()


class OnPolicyTrainer(Trainer):
    """A PPO run: ``num_envs`` environments stepped as one batch, a rollout, an update.

    Counters, evaluation, logs, hooks and checkpoints are the off-policy trainer's; only the
    collection differs (:func:`synergy_control.training.ppo.collect`). A set's environments
    cycle through its training robots (or tasks). With ``distill.steps`` the first iterations
    fit the experts (``distill.teachers``) instead of the surrogate; ``policy_loss`` is then
    the imitation loss. With ``distill.kickstart_steps`` the experts go on labelling after
    that and PPO's loss keeps a decaying imitation term (logged as ``imitation_loss``).
    """

    agent: PPO

    def _build_collection(self) -> None:
        """Make the vectorised environments (no replay: a rollout lives for one update)."""
        cfg = self.config
        self.envs = VectorEnv(self.train_names, cfg.num_envs, cfg.obs_mode)
        self.env_robot = (torch.as_tensor(self.envs.entry, device=self.device)
                          if self.is_set else None)

    def run(self, stop: StopRequest) -> None:
        """Collect and update until ``total_steps`` or a stop request, then checkpoint."""
        cfg = self.config
        obs = torch.as_tensor(self.envs.reset(seed=cfg.seed + self.episodes), device=self.device)
        # the experts are loaded only while there is teaching to do: a run resumed after it
        # needs no expert files (its checkpoint holds PPO's learning rate, set as it ended)
        self.teachers = (Teachers(cfg.distill.teachers, self.train_names)
                         if self.env_steps < cfg.distill.teaching_steps else None)
        for hook in self.hooks:
            hook.start(self)
        mark = (time.perf_counter(), self.agent.updates)
        while self.env_steps < cfg.total_steps and stop.signal is None:
            before = self.env_steps
            collected = collect(self.agent, self.envs, obs, self.env_robot,
                                cfg.ppo.rollout_steps, self.teachers)
            obs = collected.obs
            for entry in self.envs.entry:
                self.robot_steps[self.train_names[entry]] += cfg.ppo.rollout_steps
            self.env_steps = before + cfg.ppo.rollout_steps * self.envs.num_envs
            self._log_episodes([(e.name, e.episode_return, e.length)
                                for _, e in collected.episodes])
            self.bar.update(self.env_steps - before)
            distilling = before < cfg.distill.steps
            kickstart = (cfg.distill.kickstart_weight(before)
                         if self.teachers is not None and not distilling else None)
            self.metrics = self.agent.update(collected.rollout, kickstart)
            if distilling and self.env_steps >= cfg.distill.steps:
                # distilled: PPO takes over at its own learning rate, before any checkpoint
                self.agent.set_learning_rate(cfg.ppo.learning_rate)
            if self.teachers is not None and self.env_steps >= cfg.distill.teaching_steps:
                self.teachers = None
            mark = self._periodic(before, mark)
        self._finish()

    def close(self) -> None:
        """Release the vectorised environments too."""
        super().close()
        self.envs.close()


def _new_run_dir(config: Config) -> Path:
    stamp = datetime.now().strftime('%Y%m%d-%H%M%S')
    return Path('runs') / f'{config.name}_{config.seed}_{stamp}'


def train(config_path: str | None = None, *, device: str | None = None,
          resume: str | None = None, seed: int | None = None, run_dir: str | None = None,
          config: Config | None = None, progress: bool | None = None,
          total_steps: int | None = None) -> Path:
    """Train (or resume) one run and return its directory.

    ``device`` overrides ``config.device`` (default cpu); ``seed`` overrides the config's
    seed of a new run; ``progress`` forces the bar on/off (default: on for a TTY);
    ``total_steps`` overrides the budget (a resumed run may be extended, e.g. SAR's play
    policy continued as the end-to-end baseline; the new budget is saved in config.yaml).
    SIGINT/SIGTERM stop the run after the current step with a final ``last.pt``.
    """
    state = None
    if total_steps is not None and total_steps <= 0:
        raise ConfigError(f"config key 'total_steps': expected > 0, got {total_steps}")
    if resume is not None:
        run_path = Path(resume)
        state = load_checkpoint(run_path / 'checkpoints' / 'last.pt')
        config = config_from_dict(state['config'])
        if seed is not None and seed != config.seed:
            raise ConfigError(f"config key 'seed': a resumed run keeps seed {config.seed}, "
                              f'got {seed}')
        if total_steps is not None:
            if total_steps < state['counters']['env_steps']:
                raise ConfigError(f"config key 'total_steps': run {run_path} is already at "
                                  f"step {state['counters']['env_steps']}, got {total_steps}")
            config = dataclasses.replace(config, total_steps=total_steps)
    else:
        if config is None:
            if config_path is None:
                raise ConfigError('train needs a config path, a Config or a run to resume')
            config = load_config(config_path)
        overrides = {'seed': seed, 'device': device, 'total_steps': total_steps}
        config = dataclasses.replace(config, **{k: v for k, v in overrides.items()
                                                if v is not None})
        run_path = Path(run_dir) if run_dir is not None else _new_run_dir(config)
        if (run_path / 'checkpoints' / 'last.pt').exists():
            raise CheckpointError(f"run directory '{run_path}' already has a checkpoint: "
                                  'resume it or choose another directory')

    # Built before anything is written: a config that cannot run leaves no run directory.
    trainer_class = OnPolicyTrainer if config.algorithm == 'ppo' else Trainer
    trainer = trainer_class(config, run_path, device or config.device, state, progress)
    if state is None or total_steps is not None:
        save_config(config, run_path / 'config.yaml')
    try:
        with StopRequest().installed() as stop:
            trainer.run(stop)
        if stop.signal is not None:
            print(f'{stop.signal}: stopped at step {trainer.env_steps}, checkpoint written; '
                  f'continue with --resume {run_path}', file=sys.stderr)
    finally:
        trainer.close()
    return run_path


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m synergy_control.training CONFIG [--device cuda] ...``."""
    parser = argparse.ArgumentParser(prog='synergy_control.training', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', nargs='?', help='YAML training config (not with --resume)')
    parser.add_argument('--device', help='cpu, cuda or cuda:N (default: the config\'s)')
    parser.add_argument('--resume', metavar='RUN_DIR', help='continue a run from last.pt')
    parser.add_argument('--seed', type=int, help='override the config seed')
    parser.add_argument('--run-dir', help='run directory (default runs/<name>_<seed>_<time>)')
    parser.add_argument('--total-steps', type=int, help="override the config's budget "
                        '(with --resume: extend the run)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    args = parser.parse_args(argv)
    if (args.config is None) == (args.resume is None):
        parser.error('give either a config or --resume RUN_DIR')
    try:
        run_path = train(args.config, device=args.device, resume=args.resume, seed=args.seed,
                         run_dir=args.run_dir, progress=False if args.no_progress else None,
                         total_steps=args.total_steps)
    except (ConfigError, CheckpointError, TrainingDiverged) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(run_path)
    return 0
