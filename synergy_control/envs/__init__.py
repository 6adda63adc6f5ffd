"""Gymnasium environments over the robot variants (ROS-free)."""

from synergy_control.envs.locomotion import LocomotionEnv
from synergy_control.robots import Task

#: An environment id names a robot variant and optionally its task: ``half_cheetah@vel:3.0``.
TASK_SEPARATOR = '@'


def env_id(robot: str, task: str | Task | None = None) -> str:
    """Return the id of ``robot`` on ``task`` (the robot's name alone for its default task)."""
    return robot if task is None else f'{robot}{TASK_SEPARATOR}{task}'


def split_env_id(name: str) -> tuple[str, str | None]:
    """Return (robot variant, task or None) of an environment id."""
    robot, _, task = name.partition(TASK_SEPARATOR)
    return robot, task or None


def make_env(robot: str, obs_mode: str = 'flat', task: str | Task | None = None,
             **kwargs) -> LocomotionEnv:
    """Make the environment of a robot variant on a task (``'vel:3.0'``; default gymnasium's).

    ``robot`` may be an environment id that carries the task (``half_cheetah@vel:3.0``).
    """
    variant, id_task = split_env_id(robot)
    if id_task is not None and task is not None:
        raise ValueError(f"environment '{robot}' names its task; got task {task!r} as well")
    return LocomotionEnv(variant, obs_mode=obs_mode, task=task or id_task, **kwargs)


__all__ = ['TASK_SEPARATOR', 'LocomotionEnv', 'env_id', 'make_env', 'split_env_id']
