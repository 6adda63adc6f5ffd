"""Robot state as ROS carries it: named joints plus the floating base as odometry.

ROS-free on purpose: the bridge turns (qpos, qvel) into joint arrays and a :class:`RootState`
with these functions, and the policy node turns messages back into (qpos, qvel) with
:class:`StateReader`, so both sides share one definition. Quaternions here are ROS order
(x, y, z, w); MuJoCo's are w-first. Odometry twist is expressed in the body frame (REP 105
child frame).

q and -q are one rotation, so the sign of a published quaternion carries no information and
the rebuilt state must not depend on it; yet the policies saw MuJoCo's continuously
integrated root in training (a free root's quaternion may reach w < 0, a planar pitch may
pass pi). The reader therefore keeps the root continuous with the previous state: the
quaternion sign nearest the previous one, the pitch (known modulo 2 pi) nearest the previous
pitch. Without a previous state, or across a jump no robot makes between two states (an
episode reset), it uses the canonical form (w >= 0, pitch in [-pi, pi]), which is what
MuJoCo starts every episode near.
"""

from __future__ import annotations

import math
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


#: Index order that turns a w-first quaternion into x, y, z, w (fancy indexing is several
#: times cheaper than np.r_ on the per-message path).
_WXYZ_TO_XYZW = [1, 2, 3, 0]
#: A root orientation that moved more than this (rad) since the previous state did not move
#: continuously (the robot was reset): the reader starts again from the canonical form.
CONTINUITY_LIMIT = math.pi / 2
_TWO_PI = 2.0 * math.pi


def _rotate(q: Sequence[float], v: Sequence[float], inverse: bool = False
            ) -> tuple[float, float, float]:
    """Rotate v by the unit quaternion q (w, x, y, z), or by its inverse.

    Plain float arithmetic: on three-vectors it is several times cheaper than building a
    rotation matrix with numpy, and it runs once per state on both nodes.
    """
    w, x, y, z = q
    if inverse:
        x, y, z = -x, -y, -z
    a, b, c = v
    return ((1 - 2 * (y * y + z * z)) * a + 2 * (x * y - z * w) * b + 2 * (x * z + y * w) * c,
            2 * (x * y + z * w) * a + (1 - 2 * (x * x + z * z)) * b + 2 * (y * z - x * w) * c,
            2 * (x * z - y * w) * a + 2 * (y * z + x * w) * b + (1 - 2 * (x * x + y * y)) * c)


def root_state_from_qpos(robot: Robot, qpos: np.ndarray, qvel: np.ndarray) -> RootState:
    """Compute the base pose and twist that the bridge publishes as odometry."""
    root = robot.root
    if root.kind == 'free':
        p, v = root.qpos_adr[0], root.qvel_adr[0]
        quat = qpos[p + 3:p + 7] / np.linalg.norm(qpos[p + 3:p + 7])
        return RootState(qpos[p:p + 3].copy(), quat[_WXYZ_TO_XYZW],
                         np.array(_rotate(quat.tolist(), qvel[v:v + 3].tolist(), inverse=True)),
                         qvel[v + 3:v + 6].copy())
    x, z = robot.forward_position(qpos), robot.torso_height(qpos)
    pitch = robot.torso_pitch(qpos)
    quat = (math.cos(pitch / 2), 0.0, math.sin(pitch / 2), 0.0)
    world_velocity = (float(qvel[root.qvel_adr[0]]), 0.0, float(qvel[root.qvel_adr[1]]))
    return RootState(np.array([x, 0.0, z]), np.array(quat)[_WXYZ_TO_XYZW],
                     np.array(_rotate(quat, world_velocity, inverse=True)),
                     np.array([0.0, qvel[root.qvel_adr[2]], 0.0]))


def with_unit_root_quaternion(robot: Robot, qpos: np.ndarray) -> np.ndarray:
    """Return qpos [nq] or states [N, nq] with a free root's quaternion at unit length.

    Gymnasium's reset noise leaves the first state's quaternion up to about 1 % off unit
    length (MuJoCo's kinematics normalise it, so the physics never sees that), while a state
    rebuilt from odometry has a unit one. The runtime gives the policy the unit form on every
    path, so an offline episode and the ROS loop's see the same first observation. qpos
    itself comes back where nothing changes (a planar root, unit quaternions). Each norm is
    ``np.linalg.norm``'s bit for bit: ``matmul`` of a row with itself is the BLAS ``ddot``
    that ``norm`` calls, so a batch of states gets each state's own result.
    """
    root = robot.root
    if root.kind != 'free':
        return qpos
    start = root.qpos_adr[0] + 3
    quat = qpos[..., start:start + 4]
    norm = np.sqrt(np.matmul(quat[..., None, :], quat[..., :, None]))[..., 0]  # [..., 1]
    if (norm == 1.0).all():
        return qpos
    unit = np.array(qpos, dtype=np.float64)
    unit[..., start:start + 4] /= norm
    return unit


def continuous_pitch(quat_wxyz: Sequence[float], previous: float | None) -> float:
    """Pitch of a planar root from its quaternion (either sign), continuous with ``previous``."""
    w, y = quat_wxyz[0], quat_wxyz[2]
    if w < 0.0:  # the canonical sign first, so that q and -q give the very same number
        w, y = -w, -y
    pitch = 2.0 * math.atan2(y, w)  # canonical: [-pi, pi]
    if previous is not None:
        nearest = pitch + _TWO_PI * round((previous - pitch) / _TWO_PI)
        if abs(nearest - previous) <= CONTINUITY_LIMIT:
            return nearest
    return pitch


def continuous_quaternion(quat_wxyz: Sequence[float], previous: np.ndarray | None
                          ) -> list[float]:
    """Return the sign of a unit quaternion nearest ``previous`` (w >= 0 without one)."""
    sign = 1.0 if quat_wxyz[0] >= 0.0 else -1.0
    if previous is not None:
        dot = sum(a * b for a, b in zip(quat_wxyz, previous.tolist()))
        if abs(dot) >= math.cos(CONTINUITY_LIMIT / 2):  # rotated by at most the limit
            sign = 1.0 if dot >= 0.0 else -1.0
    return [sign * value for value in quat_wxyz]


def qpos_qvel_from_state(robot: Robot, joint_positions: np.ndarray,
                         joint_velocities: np.ndarray, root: RootState,
                         previous_qpos: np.ndarray | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Rebuild (qpos, qvel) from actuated-joint arrays (robot order) and the base state.

    The root orientation is read independently of the quaternion's sign, continuous with
    ``previous_qpos`` (the previous state's qpos) when given.
    """
    model = robot.model
    qpos = np.zeros(model.nq)
    qvel = np.zeros(model.nv)
    qpos[robot.joint_qpos_adr] = joint_positions
    qvel[robot.joint_qvel_adr] = joint_velocities
    spec = robot.root
    x, y, z, w = (float(v) for v in root.orientation_xyzw)
    norm = math.sqrt(x * x + y * y + z * z + w * w)
    if not (math.isfinite(norm) and norm >= 1e-6):
        raise StateError(f'odometry orientation is not a unit quaternion: {[x, y, z, w]}')
    quat = (w / norm, x / norm, y / norm, z / norm)
    world_velocity = _rotate(quat, [float(v) for v in root.linear_velocity])
    if spec.kind == 'free':
        p, v = spec.qpos_adr[0], spec.qvel_adr[0]
        qpos[p:p + 3] = root.position
        qpos[p + 3:p + 7] = continuous_quaternion(
            quat, None if previous_qpos is None else previous_qpos[p + 3:p + 7])
        qvel[v:v + 3] = world_velocity
        qvel[v + 3:v + 6] = root.angular_velocity
        return qpos, qvel
    pitch = continuous_pitch(
        quat, None if previous_qpos is None else robot.torso_pitch(previous_qpos))
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
                duplicates = sorted({n for n in key if key.count(n) > 1})
                raise StateError(f'joint state names contain duplicates: {duplicates}')
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
        finite = np.isfinite(q) & np.isfinite(dq)
        if not finite.all():
            bad = [self.joint_names[i] for i in np.flatnonzero(~finite)]
            raise StateError(f'joint state has non-finite values for {bad}')
        return q, dq

    def efforts(self, names: Sequence[str], efforts: Sequence[float]) -> np.ndarray:
        """Measured joint efforts in robot joint order; StateError if missing or non-finite.

        Observations of the actuator input (the humanoid's ``qfrc_actuator`` and contact
        forces) are rebuilt from them.
        """
        if len(efforts) != len(names):
            raise StateError(f'joint state has {len(names)} names but {len(efforts)} efforts '
                             '(this policy observes the applied efforts)')
        effort = np.asarray(efforts, dtype=np.float64)[self._indices(names)]
        if not np.isfinite(effort).all():
            bad = [self.joint_names[i] for i in np.flatnonzero(~np.isfinite(effort))]
            raise StateError(f'joint state has non-finite efforts for {bad}')
        return effort


#: Beyond its range a limited hinge is pushed back by a soft constraint: the simulated robots
#: pass it by up to ~0.45 rad under random efforts. A full radian more is a sensor fault.
JOINT_RANGE_MARGIN = 1.0
#: An unlimited hinge still does not turn a hundred times between resets (rad).
UNLIMITED_JOINT_ANGLE = 200.0 * math.pi
#: Joint speeds (rad/s): the simulated robots stay under ~55 under random efforts.
JOINT_SPEED_LIMIT = 200.0
#: Base speeds (m/s, rad/s): under ~5 m/s and ~35 rad/s in simulation.
ROOT_LINEAR_SPEED_LIMIT = 50.0
ROOT_ANGULAR_SPEED_LIMIT = 200.0
#: Horizontal distance from the origin (m) beyond which float64 positions lose the detail
#: the modular observation subtracts out; no episode walks this far.
HORIZONTAL_LIMIT = 1e5
#: Root height band in standing heights of the torso: below the floor by a whole standing
#: height, or ten standing heights up, no robot stands or jumps.
HEIGHT_BAND = (-1.0, 10.0)


@dataclass(frozen=True)
class StateLimits:
    """Physical plausibility limits of a robot's state, computed once from its model.

    Finite but absurd values (a joint at 1e30 rad, a torso 1e30 m up) would otherwise reach
    the policy and come back as full-effort commands.
    """

    joint_names: tuple[str, ...]
    joint_low: np.ndarray
    joint_high: np.ndarray
    joint_speed: float
    height: tuple[float, float]
    horizontal: float
    linear_speed: float
    angular_speed: float

    @classmethod
    def from_robot(cls, robot: Robot) -> 'StateLimits':
        """Derive the limits from the robot's joint ranges and standing height."""
        joints = robot.model.actuator_trnid[:, 0]
        limited = robot.model.jnt_limited[joints].astype(bool)
        low = np.where(limited, robot.joint_ranges[:, 0] - JOINT_RANGE_MARGIN,
                       -UNLIMITED_JOINT_ANGLE)
        high = np.where(limited, robot.joint_ranges[:, 1] + JOINT_RANGE_MARGIN,
                        UNLIMITED_JOINT_ANGLE)
        standing = robot.torso_height(robot.model.qpos0)
        return cls(tuple(robot.joint_names), low, high, JOINT_SPEED_LIMIT,
                   (HEIGHT_BAND[0] * standing, HEIGHT_BAND[1] * standing), HORIZONTAL_LIMIT,
                   ROOT_LINEAR_SPEED_LIMIT, ROOT_ANGULAR_SPEED_LIMIT)

    def check_joints(self, positions: np.ndarray, velocities: np.ndarray) -> None:
        """Raise StateError naming each joint whose position or speed is implausible."""
        bad_position = (positions < self.joint_low) | (positions > self.joint_high)
        bad_speed = np.abs(velocities) > self.joint_speed
        if not (bad_position.any() or bad_speed.any()):
            return
        problems = [f'{self.joint_names[i]} position {positions[i]:.6g} rad outside '
                    f'[{self.joint_low[i]:.3g}, {self.joint_high[i]:.3g}]'
                    for i in np.flatnonzero(bad_position)]
        problems += [f'{self.joint_names[i]} velocity {velocities[i]:.6g} rad/s beyond '
                     f'±{self.joint_speed:g}' for i in np.flatnonzero(bad_speed)]
        raise StateError(f"implausible joint state: {'; '.join(problems)}")

    def check_root(self, root: RootState) -> None:
        """Raise StateError naming each odometry field that is implausible."""
        x, y, z = (float(v) for v in root.position)
        low, high = self.height
        problems = []
        if not low <= z <= high:
            problems.append(f'pose.position.z {z:.6g} m outside [{low:.3g}, {high:.3g}]')
        for name, value in (('x', x), ('y', y)):
            if abs(value) > self.horizontal:
                problems.append(f'pose.position.{name} {value:.6g} m beyond '
                                f'±{self.horizontal:g}')
        for field, vector, limit, unit in (
                ('twist.linear', root.linear_velocity, self.linear_speed, 'm/s'),
                ('twist.angular', root.angular_velocity, self.angular_speed, 'rad/s')):
            for name, value in zip('xyz', vector):
                if abs(value) > limit:
                    problems.append(f'{field}.{name} {value:.6g} {unit} beyond ±{limit:g}')
        if problems:
            raise StateError(f"implausible odometry: {'; '.join(problems)}")


class StateReader:
    """Named joints and a base state to (qpos, qvel), for one robot and one state stream.

    Matches joint names, refuses implausible values (naming the joint or field) and keeps the
    root orientation continuous with the previous state it read (see the module docstring).
    """

    def __init__(self, robot: Robot):
        self.robot = robot
        self.matcher = JointMatcher(robot.joint_names)
        self.limits = StateLimits.from_robot(robot)
        self._previous_qpos: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the previous state (a new stream starts from the canonical orientation)."""
        self._previous_qpos = None

    def read(self, names: Sequence[str], positions: Sequence[float],
             velocities: Sequence[float], root: RootState) -> tuple[np.ndarray, np.ndarray]:
        """Rebuild (qpos, qvel); StateError (naming what is wrong) if the state is unusable."""
        q, dq = self.matcher.match(names, positions, velocities)
        self.limits.check_joints(q, dq)
        self.limits.check_root(root)
        qpos, qvel = qpos_qvel_from_state(self.robot, q, dq, root, self._previous_qpos)
        self._previous_qpos = qpos
        return qpos, qvel
