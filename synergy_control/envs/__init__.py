"""Gymnasium environments over the robot variants (ROS-free)."""

from synergy_control.envs.locomotion import LocomotionEnv


def make_env(robot: str, obs_mode: str = 'flat', **kwargs) -> LocomotionEnv:
    """Make the locomotion environment of a robot variant."""
    return LocomotionEnv(robot, obs_mode=obs_mode, **kwargs)


__all__ = ['LocomotionEnv', 'make_env']
