"""Gymnasium environments over the robot variants (ROS-free)."""

from synergy_control.envs.locomotion import LocomotionEnv
from synergy_control.robots import Task


def make_env(robot: str, obs_mode: str = 'flat', task: str | Task | None = None,
             **kwargs) -> LocomotionEnv:
    """Make the environment of a robot variant on a task (``'vel:3.0'``; default gymnasium's)."""
    return LocomotionEnv(robot, obs_mode=obs_mode, task=task, **kwargs)


__all__ = ['LocomotionEnv', 'make_env']
