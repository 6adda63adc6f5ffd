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
import math
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from synergy_control.envs import LocomotionEnv, make_env
from synergy_control.rollout import rollout
from synergy_control.training.agent import OffPolicyAgent
from synergy_control.training.buffers import ReplayBuffer, available_memory
from synergy_control.training.checkpoint import (CheckpointError, load_checkpoint, make_agent,
                                                 remove_stale_temporaries, save_checkpoint)
from synergy_control.training.config import (Config, ConfigError, config_from_dict, load_config,
                                             save_config)

EPISODE_COLUMNS = ('episode', 'episode_return', 'episode_length')
EVAL_COLUMNS = ('eval_mean', 'eval_std', 'eval_length')
EVAL_SEED_BASE = 10_000  # eval episode i of a run with seed s resets with 10000 + 1000 s + i


class MetricsLog:
    """Rows of metrics.csv (episodes, losses, evaluations), mirrored to TensorBoard."""

    def __init__(self, run_dir: Path, loss_names: Sequence[str], resume_step: int | None):
        self.columns = ['step', 'wall_time', *EPISODE_COLUMNS, 'updates', *loss_names,
                        *EVAL_COLUMNS]
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


def evaluate(agent: OffPolicyAgent, env: LocomotionEnv, seeds: Sequence[int]) -> dict[str, float]:
    """Deterministic-policy return over one episode per seed."""
    episodes = [rollout(env, lambda obs: agent.act(obs, deterministic=True), seed)
                for seed in seeds]
    returns, lengths = [e.episode_return for e in episodes], [e.length for e in episodes]
    return {'eval_mean': float(np.mean(returns)), 'eval_std': float(np.std(returns)),
            'eval_length': float(np.mean(lengths))}


class TrainingDiverged(RuntimeError):
    """Losses or weights became non-finite: the run stops and keeps its last good checkpoint."""


def allocate_replay(obs_dim: int, act_dim: int, capacity: int,
                    device: torch.device) -> ReplayBuffer:
    """Allocate the replay buffer, refusing a ``buffer_size`` that cannot fit (naming the key).

    The whole capacity is allocated up front; an estimate against the free memory catches
    sizes that the OS would grant lazily and then kill the run for, half-way through.
    """
    need = capacity * (2 * obs_dim + act_dim + 2) * 4
    free = available_memory(device)
    if free is not None and need > free:
        raise ConfigError(f"config key 'buffer_size': {capacity} transitions need "
                          f'{need / 2**30:.1f} GiB on {device}, {free / 2**30:.1f} GiB available')
    try:
        return ReplayBuffer(obs_dim, act_dim, capacity, device)
    except (RuntimeError, MemoryError) as err:
        raise ConfigError(f"config key 'buffer_size': cannot allocate {capacity} transitions "
                          f'on {device}: {err}') from err


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch (all devices); the generator draws the random actions."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


class Trainer:
    """One run: owns the envs, agent, buffer, counters and logs of a run directory."""

    def __init__(self, config: Config, run_dir: Path, device: str, state: dict | None = None,
                 progress: bool | None = None):
        self.config, self.run_dir, self.device = config, run_dir, torch.device(device)
        if self.device.type == 'cpu' and config.num_threads:
            torch.set_num_threads(config.num_threads)
        self.rng = seed_everything(config.seed)
        self.env = make_env(config.robot, config.obs_mode)
        self.eval_env = make_env(config.robot, config.obs_mode)
        obs_dim = int(np.prod(self.env.observation_space.shape))
        act_dim = int(self.env.action_space.shape[0])
        self.agent = make_agent(config, obs_dim, act_dim, self.device)
        self.buffer = allocate_replay(obs_dim, act_dim, config.buffer_size, self.device)
        self.eval_seeds = [EVAL_SEED_BASE + 1000 * config.seed + i
                           for i in range(config.eval_episodes)]
        self.env_steps = self.episodes = 0
        self.wall_offset = 0.0
        self.last_eval: dict[str, float] = {}
        self.best_eval = -math.inf
        self.metrics: dict[str, torch.Tensor] = {}  # the latest update's losses (detached)
        self.saved_step: int | None = None  # env step of the newest last.pt on disk
        remove_stale_temporaries(run_dir / 'checkpoints')
        if state is not None:
            self.restore(state)
        self.log = MetricsLog(run_dir, self.agent.metric_names,
                              self.env_steps if state is not None else None)
        show = sys.stderr.isatty() if progress is None else progress
        self.bar = tqdm(total=config.total_steps, initial=self.env_steps, unit='step',
                        disable=not show, dynamic_ncols=True, smoothing=0.05)
        self.t0 = time.perf_counter()

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
                              'episodes': self.episodes},
                 'rng': rng, 'last_eval': self.last_eval, 'best_eval': self.best_eval,
                 'wall_time': self.wall_time}
        if self.config.keep_buffer:
            state['buffer'] = self.buffer.state_dict()
        return state

    def restore(self, state: dict) -> None:
        """Load a checkpoint's networks, optimisers, counters, RNG and (if kept) buffer."""
        self.agent.load_state_dict(state['agent'])
        self.agent.load_optimizer_state(state['optimizers'])
        counters = state['counters']
        self.env_steps, self.episodes = counters['env_steps'], counters['episodes']
        self.agent.updates = counters['updates']
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
        """Evaluate, log, and keep ``best.pt`` for the best mean return so far."""
        self.last_eval = {'step': self.env_steps, **evaluate(self.agent, self.eval_env,
                                                             self.eval_seeds)}
        self.log.write('eval', self.env_steps, self.wall_time,
                       {k: v for k, v in self.last_eval.items() if k != 'step'})
        self.bar.set_postfix(eval=f"{self.last_eval['eval_mean']:.1f}", refresh=False)
        if self.last_eval['eval_mean'] > self.best_eval:
            self.best_eval = self.last_eval['eval_mean']
            self.save('best')

    def run(self, stop: StopRequest) -> None:
        """Interact and learn until ``total_steps`` or a stop request, then checkpoint."""
        cfg, agent, buffer = self.config, self.agent, self.buffer
        obs, _ = self.env.reset(seed=cfg.seed + self.episodes)
        agent.observe(obs)
        ep_return, ep_length = 0.0, 0
        mark = (time.perf_counter(), agent.updates)
        while self.env_steps < cfg.total_steps and stop.signal is None:
            if self.env_steps < cfg.start_steps:
                action = self.rng.uniform(-1.0, 1.0, agent.act_dim).astype(np.float32)
            else:
                action = agent.act(obs)
            next_obs, reward, terminated, truncated, _ = self.env.step(action)
            buffer.add(obs, action, reward, next_obs, terminated)
            agent.observe(next_obs)
            obs = next_obs
            self.env_steps += 1
            ep_return += reward
            ep_length += 1
            self.bar.update()

            if terminated or truncated:
                self.episodes += 1
                self.log.write('episode', self.env_steps, self.wall_time,
                               {'episode': self.episodes, 'episode_return': ep_return,
                                'episode_length': ep_length})
                obs, _ = self.env.reset()
                agent.observe(obs)
                ep_return, ep_length = 0.0, 0

            # Gate on what the buffer holds, not on env_steps: a run resumed without its
            # buffer refills start_steps transitions (with its policy) before learning again.
            if len(buffer) >= max(cfg.start_steps, cfg.batch_size):
                for _ in range(cfg.updates_per_step):
                    self.metrics = agent.update(buffer.sample(cfg.batch_size))

            if self.env_steps % cfg.log_every == 0 and self.metrics:
                values = dict(zip(self.metrics,
                                  torch.stack(list(self.metrics.values())).tolist()))
                now = time.perf_counter()
                ups = (agent.updates - mark[1]) / max(now - mark[0], 1e-9)
                mark = (now, agent.updates)
                self.log.write('train', self.env_steps, self.wall_time,
                               {'updates': agent.updates, **values})
                self.check_finite(values)
                self.bar.set_postfix(updates_per_s=f'{ups:.0f}',
                                     eval=f"{self.last_eval.get('eval_mean', math.nan):.1f}",
                                     refresh=False)
            if self.env_steps % cfg.eval_every == 0:
                self.run_evaluation()
            if self.env_steps % cfg.checkpoint_every == 0:
                self.save('last')

        if self.env_steps >= cfg.total_steps and self.last_eval.get('step') != self.env_steps:
            self.run_evaluation()
        self.save('last')

    def close(self) -> None:
        """Release environments, progress bar and log files."""
        self.bar.close()
        self.log.close()
        self.env.close()
        self.eval_env.close()


def _new_run_dir(config: Config) -> Path:
    stamp = datetime.now().strftime('%Y%m%d-%H%M%S')
    return Path('runs') / f'{config.name}_{config.seed}_{stamp}'


def train(config_path: str | None = None, *, device: str | None = None,
          resume: str | None = None, seed: int | None = None, run_dir: str | None = None,
          config: Config | None = None, progress: bool | None = None) -> Path:
    """Train (or resume) one run and return its directory.

    ``device`` overrides ``config.device`` (default cpu); ``seed`` overrides the config's
    seed of a new run; ``progress`` forces the bar on/off (default: on for a TTY).
    SIGINT/SIGTERM stop the run after the current step with a final ``last.pt``.
    """
    state = None
    if resume is not None:
        run_path = Path(resume)
        state = load_checkpoint(run_path / 'checkpoints' / 'last.pt')
        config = config_from_dict(state['config'])
        if seed is not None and seed != config.seed:
            raise ConfigError(f"config key 'seed': a resumed run keeps seed {config.seed}, "
                              f'got {seed}')
    else:
        if config is None:
            if config_path is None:
                raise ConfigError('train needs a config path, a Config or a run to resume')
            config = load_config(config_path)
        overrides = {'seed': seed, 'device': device}
        config = dataclasses.replace(config, **{k: v for k, v in overrides.items()
                                                if v is not None})
        run_path = Path(run_dir) if run_dir is not None else _new_run_dir(config)
        if (run_path / 'checkpoints' / 'last.pt').exists():
            raise CheckpointError(f"run directory '{run_path}' already has a checkpoint: "
                                  'resume it or choose another directory')

    # Built before anything is written: a config that cannot run leaves no run directory.
    trainer = Trainer(config, run_path, device or config.device, state, progress)
    if state is None:
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
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    args = parser.parse_args(argv)
    if (args.config is None) == (args.resume is None):
        parser.error('give either a config or --resume RUN_DIR')
    try:
        run_path = train(args.config, device=args.device, resume=args.resume, seed=args.seed,
                         run_dir=args.run_dir, progress=False if args.no_progress else None)
    except (ConfigError, CheckpointError, TrainingDiverged) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(run_path)
    return 0
