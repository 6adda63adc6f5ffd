"""Experts as teachers: the labels of DAgger-style distillation into one policy (issue 20).

A multi-morphology policy learns slowly from rewards alone (SOLAR's PPO pilot left one walker
in its start pose after 500k of its steps), while a single-robot expert of each training
variant trains in minutes (``config/train/experts/``). Distillation (``distill:`` in a PPO
config, :class:`synergy_control.training.config.DistillConfig`) fits the student to them
first, in the way of Ross et al. 2011 (DAgger) and Furuta et al. 2022 (behaviour distillation
into a morphology-general transformer): the states are the student's own, the labels the
experts'. The teachers are exported ONNX policies run by :class:`PolicyRuntime`, the
deployment runtime, so each expert observes its robot exactly as it did in training and as it
would on the robot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from synergy_control.runtime import PolicyLoadError, PolicyRuntime
from synergy_control.settings import ConfigError
from synergy_control.training.vec_env import VectorEnv


class Teachers:
    """One exported expert per training robot of a run, matched by the robot its card names."""

    def __init__(self, paths: Sequence[str], names: Sequence[str]):
        by_robot: dict[str, PolicyRuntime] = {}
        for i, path in enumerate(paths):
            key = f"config key 'distill.teachers[{i}]'"
            try:
                runtime = PolicyRuntime(path, batched=True)
            except (OSError, ValueError, PolicyLoadError) as error:
                raise ConfigError(f'{key}: {path}: {error}') from None
            robot = runtime.robot.name
            if robot not in names:
                raise ConfigError(f'{key}: {path} drives {robot}, not a training robot of this '
                                  f"run ({', '.join(names)})")
            if robot in by_robot:
                raise ConfigError(f'{key}: a second expert for {robot}')
            by_robot[robot] = runtime
        missing = [name for name in names if name not in by_robot]
        if missing:
            raise ConfigError("config key 'distill.teachers': no expert for "
                              f"{', '.join(missing)}")
        self.runtimes = [by_robot[name] for name in names]

    def actions(self, envs: VectorEnv) -> np.ndarray:
        """Each environment's expert action [N, act_dim] in [-1, 1] for the state it is in.

        One graph call per robot: the states of a robot's envs are stacked, labelled as a
        batch (:meth:`PolicyRuntime.act_batch`) and each row goes back to its env.
        """
        labels = np.zeros((envs.num_envs, envs.act_dim), np.float32)
        for (members, group), runtime in zip(envs.groups, self.runtimes):
            count = len(group.envs)  # a group of one stacks to its env's own 1-D views
            states = [group.stacked(name).reshape(count, -1) for name in ('qpos', 'qvel', 'ctrl')]
            action = runtime.act_batch(*states).action
            labels[members, :action.shape[1]] = action
        return labels
