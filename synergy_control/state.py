"""Robot state as ROS carries it: named joints plus the floating base as odometry.

ROS-free on purpose: the bridge turns (qpos, qvel) into joint arrays and a :class:`RootState`
with these functions, and the policy node turns messages back into (qpos, qvel) with their
inverses, so both sides share one definition. Quaternions here are ROS order (x, y, z, w);
MuJoCo's are w-first. Odometry twist is expressed in the body frame (REP 105 child frame).

The quaternion's sign is part of the state the policies saw in training (MuJoCo integrates
it continuously; planar robots map pitch to w = cos(pitch / 2)), so a state estimator must
publish it continuously too: q and -q are one rotation, but a flat observation (free root)
or a planar pitch rebuilt from -q differ (by sign, or by 2 pi).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from synergy_control.robots import Robot


class StateError(ValueError):
    """A joint state or odometry that cannot be turned into a robot state."""


@dataclass
class RootState:
    """Pose and body-frame twist of the floating base (ROS conventions)."""

    position: np.ndarray
    orientation_xyzw: np.ndarray
    linear_velocity: np.ndarray
    angular_velocity: np.ndarray


#: Index orders that turn a w-first quaternion into x, y, z, w and back (fancy indexing is
#: several times cheaper than np.r_ on the per-message path).
_WXYZ_TO_XYZW = [1, 2, 3, 0]
_XYZW_TO_WXYZ = [3, 0, 1, 2]


def _rotation_wxyz(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def root_state_from_qpos(robot: Robot, qpos: np.ndarray, qvel: np.ndarray) -> RootState:
    """Compute the base pose and twist that the bridge publishes as odometry."""
    root = robot.root
    if root.kind == 'free':
        p, v = root.qpos_adr[0], root.qvel_adr[0]
        quat = qpos[p + 3:p + 7] / np.linalg.norm(qpos[p + 3:p + 7])
        rotation = _rotation_wxyz(quat)
        return RootState(qpos[p:p + 3].copy(), quat[_WXYZ_TO_XYZW],
                         rotation.T @ qvel[v:v + 3], qvel[v + 3:v + 6].copy())
    x, z = robot.forward_position(qpos), robot.torso_height(qpos)
    pitch = robot.torso_pitch(qpos)
    quat = np.array([np.cos(pitch / 2), 0.0, np.sin(pitch / 2), 0.0])
    world_velocity = np.array([qvel[root.qvel_adr[0]], 0.0, qvel[root.qvel_adr[1]]])
    return RootState(np.array([x, 0.0, z]), quat[_WXYZ_TO_XYZW],
                     _rotation_wxyz(quat).T @ world_velocity,
                     np.array([0.0, qvel[root.qvel_adr[2]], 0.0]))


def qpos_qvel_from_state(robot: Robot, joint_positions: np.ndarray,
                         joint_velocities: np.ndarray,
                         root: RootState) -> tuple[np.ndarray, np.ndarray]:
    """Rebuild (qpos, qvel) from actuated-joint arrays (robot order) and the base state."""
    model = robot.model
    qpos = np.zeros(model.nq)
    qvel = np.zeros(model.nv)
    qpos[robot.joint_qpos_adr] = joint_positions
    qvel[robot.joint_qvel_adr] = joint_velocities
    spec = robot.root
    xyzw = np.asarray(root.orientation_xyzw, dtype=np.float64)
    norm = np.linalg.norm(xyzw)
    if not np.isfinite(norm) or norm < 1e-6:
        raise StateError(f'odometry orientation is not a unit quaternion: {xyzw.tolist()}')
    quat = xyzw[_XYZW_TO_WXYZ] / norm
    rotation = _rotation_wxyz(quat)
    if spec.kind == 'free':
        p, v = spec.qpos_adr[0], spec.qvel_adr[0]
        qpos[p:p + 3] = root.position
        qpos[p + 3:p + 7] = quat
        qvel[v:v + 3] = rotation @ np.asarray(root.linear_velocity)
        qvel[v + 3:v + 6] = root.angular_velocity
        return qpos, qvel
    # Not folded to w >= 0: with w = cos(pitch / 2) as published by the bridge this recovers
    # pitch in (-2 pi, 2 pi], which a flipping half_cheetah needs (see module docstring).
    pitch = 2.0 * np.arctan2(quat[2], quat[0])
    world_velocity = rotation @ np.asarray(root.linear_velocity)
    qpos[spec.qpos_adr[0]] = root.position[0] - spec.offset[0]
    qpos[spec.qpos_adr[1]] = root.position[2] - spec.offset[1]
    qpos[spec.qpos_adr[2]] = pitch - spec.offset[2]
    qvel[spec.qvel_adr[0]] = world_velocity[0]
    qvel[spec.qvel_adr[1]] = world_velocity[2]
    qvel[spec.qvel_adr[2]] = root.angular_velocity[1]
    return qpos, qvel


class JointMatcher:
    """Maps a JointState's names (any order, extras allowed) onto the robot's joint order.

    The index map is cached per name tuple, so the control loop pays for matching only when
    the publisher changes its layout.
    """

    def __init__(self, joint_names: Sequence[str]):
        self.joint_names = list(joint_names)
        self._cache_key: tuple[str, ...] | None = None
        self._index: np.ndarray | None = None
        self.extra: list[str] = []

    def _indices(self, names: Sequence[str]) -> np.ndarray:
        key = tuple(names)
        if key != self._cache_key:
            if len(set(key)) != len(key):
                raise StateError('joint state names contain duplicates')
            position = {name: i for i, name in enumerate(key)}
            missing = [n for n in self.joint_names if n not in position]
            if missing:
                raise StateError(f'joint state lacks joints {missing}; '
                                 f'expected {self.joint_names}')
            self.extra = [n for n in key if n not in set(self.joint_names)]
            self._index = np.array([position[n] for n in self.joint_names], dtype=np.int64)
            self._cache_key = key
        return self._index

    def match(self, names: Sequence[str], positions: Sequence[float],
              velocities: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Positions and velocities in robot joint order; StateError if unusable."""
        if len(positions) != len(names) or len(velocities) != len(names):
            raise StateError(f'joint state has {len(names)} names but {len(positions)} positions'
                             f' and {len(velocities)} velocities')
        index = self._indices(names)
        q = np.asarray(positions, dtype=np.float64)[index]
        dq = np.asarray(velocities, dtype=np.float64)[index]
        bad = [self.joint_names[i] for i in np.flatnonzero(~(np.isfinite(q) & np.isfinite(dq)))]
        if bad:
            raise StateError(f'joint state has non-finite values for {bad}')
        return q, dq
