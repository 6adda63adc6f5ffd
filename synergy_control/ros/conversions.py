"""Builders and parsers of the messages the nodes exchange (no node code here).

The bridge and the controller share these, so a state the bridge publishes is read back by
exactly the inverse function; parsers raise :class:`~synergy_control.state.StateError` or
:class:`CommandError` instead of returning something unsafe.
"""

from __future__ import annotations

from array import array
from typing import Mapping

import mujoco
import numpy as np
from numpy.typing import ArrayLike
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Quaternion, Vector3
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import ColorRGBA, Float64MultiArray, MultiArrayDimension
from visualization_msgs.msg import Marker, MarkerArray

from synergy_control.actions import ActionScaling
from synergy_control.robots import Robot
from synergy_control.state import RootState, StateError, StateReader, root_state_from_qpos

WORLD_FRAME = 'world'
_NS_PER_S = 1_000_000_000


class CommandError(ValueError):
    """An effort command that must not reach the actuators (wrong length or non-finite)."""


# ---------------------------------------------------------------------- time
def stamp_from_ns(nanoseconds: int) -> Time:
    """Make a message stamp for a time in integer nanoseconds."""
    return Time(sec=nanoseconds // _NS_PER_S, nanosec=nanoseconds % _NS_PER_S)


def stamp_to_ns(stamp: Time) -> int:
    """Return the integer nanoseconds of a message stamp (exact, usable as a key)."""
    return stamp.sec * _NS_PER_S + stamp.nanosec


def clock_msg(nanoseconds: int) -> Clock:
    """Make the /clock message for a simulation time."""
    return Clock(clock=stamp_from_ns(nanoseconds))


# ---------------------------------------------------------------------- robot state
def doubles(values: ArrayLike) -> array:
    """Pack values as the array('d') that message fields of float64 sequences hold.

    Message setters take an array('d') as is and serialise it with one copy; a list is
    checked and converted element by element.
    """
    return array('d', np.asarray(values, dtype=np.float64).tobytes())


def joint_state_msg(robot: Robot, data: mujoco.MjData, stamp: Time,
                    msg: JointState | None = None) -> JointState:
    """Make the JointState of the actuated joints (actuator order, applied efforts).

    ``msg``, if given, is refilled instead: the bridge reuses one message per topic, since
    publishing serialises it at once.
    """
    if msg is None:
        msg = JointState(name=list(robot.joint_names))
    msg.header.stamp = stamp
    msg.position = doubles(data.qpos[robot.joint_qpos_adr])
    msg.velocity = doubles(data.qvel[robot.joint_qvel_adr])
    msg.effort = doubles(data.qfrc_actuator[robot.joint_qvel_adr])
    return msg


def odometry_msg(robot: Robot, qpos: np.ndarray, qvel: np.ndarray, stamp: Time,
                 msg: Odometry | None = None) -> Odometry:
    """Make the Odometry of the base: pose in ``world``, body-frame twist (REP 105).

    ``msg``, if given, is refilled instead (as in :func:`joint_state_msg`).
    """
    if msg is None:
        msg = Odometry(child_frame_id=robot.limbs[0].name)
        msg.header.frame_id = WORLD_FRAME
    root = root_state_from_qpos(robot, qpos, qvel)
    msg.header.stamp = stamp
    pose, twist = msg.pose.pose, msg.twist.twist
    for vector, values in ((pose.position, root.position), (twist.linear, root.linear_velocity),
                           (twist.angular, root.angular_velocity)):
        vector.x, vector.y, vector.z = values.tolist()
    orientation = pose.orientation
    orientation.x, orientation.y, orientation.z, orientation.w = root.orientation_xyzw.tolist()
    return msg


#: Odometry fields in the order :func:`root_state_from_odometry` reads them (for messages).
ODOMETRY_FIELDS = tuple(f'{part}.{axis}' for part, axes in (
    ('pose.position', 'xyz'), ('pose.orientation', 'xyzw'), ('twist.linear', 'xyz'),
    ('twist.angular', 'xyz')) for axis in axes)


def root_state_from_odometry(msg: Odometry) -> RootState:
    """Read the base state of an Odometry; StateError naming any non-finite field."""
    position, orientation = msg.pose.pose.position, msg.pose.pose.orientation
    linear, angular = msg.twist.twist.linear, msg.twist.twist.angular
    values = np.array([position.x, position.y, position.z,
                       orientation.x, orientation.y, orientation.z, orientation.w,
                       linear.x, linear.y, linear.z, angular.x, angular.y, angular.z])
    if not np.isfinite(values).all():
        bad = [ODOMETRY_FIELDS[i] for i in np.flatnonzero(~np.isfinite(values))]
        raise StateError(f'odometry has non-finite values in {bad}')
    return RootState(values[0:3], values[3:7], values[7:10], values[10:13])


def robot_state_from_msgs(reader: StateReader, joint_state: JointState,
                          odometry: Odometry) -> tuple[np.ndarray, np.ndarray]:
    """Rebuild (qpos, qvel) from a JointState and an Odometry; StateError if unusable."""
    return reader.read(joint_state.name, joint_state.position, joint_state.velocity,
                       root_state_from_odometry(odometry))


def ctrl_from_msg(reader: StateReader, scaling: ActionScaling,
                  joint_state: JointState) -> np.ndarray:
    """Rebuild the ctrl in force from the JointState's applied efforts (actuator order).

    The bridge publishes ``qfrc_actuator`` at each joint, gear × ctrl for these motors, as
    an effort joint_state_broadcaster does; equal to the simulator's ctrl up to rounding.
    """
    return scaling.command_to_ctrl(reader.matcher.efforts(joint_state.name, joint_state.effort))


# ---------------------------------------------------------------------- commands
def float_array_msg(values: ArrayLike,
                    msg: Float64MultiArray | None = None) -> Float64MultiArray:
    """Make a Float64MultiArray as ros2_control's forward_command_controller reads it.

    ``msg``, if given, is refilled instead (as in :func:`joint_state_msg`).
    """
    if msg is None:
        msg = Float64MultiArray()
    msg.data = doubles(values)
    return msg


#: Label prefix of a command's first layout dimension: the stamp (integer ns) of the state
#: the command answers. The data stay a plain 1-D array (the dimension describes it: size =
#: stride = number of joints), which forward_command_controller reads as usual; a lockstep
#: simulation reads the label to match each command to the state it answers.
ANSWERS_LABEL = 'answers_stamp_ns='


def command_msg(values: ArrayLike, answers_ns: int | None,
                msg: Float64MultiArray | None = None) -> Float64MultiArray:
    """Make an effort command that names the state it answers (None: no state).

    ``msg``, if given, is refilled instead (as in :func:`joint_state_msg`).
    """
    msg = float_array_msg(values, msg)
    size = len(msg.data)
    label = '' if answers_ns is None else f'{ANSWERS_LABEL}{answers_ns}'
    if msg.layout.dim:
        dim = msg.layout.dim[0]
        dim.label, dim.size, dim.stride = label, size, size
    else:
        msg.layout.dim = [MultiArrayDimension(label=label, size=size, stride=size)]
    return msg


def answered_stamp(msg: Float64MultiArray) -> int | None:
    """Return the stamp (ns) of the state a command answers, None if it names none."""
    if not msg.layout.dim:
        return None
    label = msg.layout.dim[0].label
    if not label.startswith(ANSWERS_LABEL):
        return None
    try:
        return int(label[len(ANSWERS_LABEL):])
    except ValueError:
        return None


def parse_command(msg: Float64MultiArray, size: int) -> np.ndarray:
    """Read the efforts of a command; CommandError if of the wrong length or NaN/Inf."""
    values = np.asarray(msg.data, dtype=np.float64)
    if values.shape != (size,):
        raise CommandError(f'command has {values.size} values, expected {size}')
    if not np.all(np.isfinite(values)):
        bad = np.flatnonzero(~np.isfinite(values)).tolist()
        raise CommandError(f'command has non-finite values at indices {bad}')
    return values


# ---------------------------------------------------------------------- diagnostics
def diagnostic_status(name: str, level: bytes, message: str, values: Mapping[str, object],
                      hardware_id: str = '') -> DiagnosticStatus:
    """Make a DiagnosticStatus; floats are written with repr so they parse back exactly."""
    return DiagnosticStatus(
        level=level, name=name, message=message, hardware_id=hardware_id,
        values=[KeyValue(key=k, value=repr(v) if isinstance(v, float) else str(v))
                for k, v in values.items()])


def diagnostic_array(stamp: Time, statuses: list[DiagnosticStatus]) -> DiagnosticArray:
    """Make a /diagnostics message."""
    msg = DiagnosticArray(status=statuses)
    msg.header.stamp = stamp
    return msg


def status_values(status: DiagnosticStatus) -> dict[str, str]:
    """Return the key-values of a DiagnosticStatus as a dict."""
    return {kv.key: kv.value for kv in status.values}


# ---------------------------------------------------------------------- markers
_SPHERE, _CAPSULE, _ELLIPSOID, _CYLINDER, _BOX = (
    int(mujoco.mjtGeom.mjGEOM_SPHERE), int(mujoco.mjtGeom.mjGEOM_CAPSULE),
    int(mujoco.mjtGeom.mjGEOM_ELLIPSOID), int(mujoco.mjtGeom.mjGEOM_CYLINDER),
    int(mujoco.mjtGeom.mjGEOM_BOX))


def _shape_parts(kind: int, size: np.ndarray) -> list[tuple[int, tuple[float, ...], float]]:
    """(marker type, full extents, offset along the geom z) of each part of one geom."""
    radius, half, third = (float(v) for v in size)
    if kind == _CAPSULE:
        return [(Marker.CYLINDER, (2 * radius, 2 * radius, 2 * half), 0.0),
                (Marker.SPHERE, (2 * radius,) * 3, -half),
                (Marker.SPHERE, (2 * radius,) * 3, half)]
    if kind == _SPHERE:
        return [(Marker.SPHERE, (2 * radius,) * 3, 0.0)]
    if kind == _CYLINDER:
        return [(Marker.CYLINDER, (2 * radius, 2 * radius, 2 * half), 0.0)]
    if kind in (_BOX, _ELLIPSOID):
        shape = Marker.CUBE if kind == _BOX else Marker.SPHERE
        return [(shape, (2 * radius, 2 * half, 2 * third), 0.0)]
    return []


class GeomMarkers:
    """The robot's geoms as markers in ``world``, with their true shapes and sizes.

    MuJoCo sizes are half-extents (radius, half-length, half-sides) and markers take full
    extents; a capsule is drawn as a cylinder plus two end spheres. Geoms of the world body
    (the floor) and invisible ones are left out; meshes and height fields are not drawn.
    Shapes, sizes and colours are fixed per model, so they are computed once.
    """

    def __init__(self, model: mujoco.MjModel, namespace: str = 'geoms'):
        self.namespace = namespace
        self._parts: list[tuple[int, int, tuple[float, float, float], ColorRGBA, float]] = []
        for g in range(model.ngeom):
            rgba = model.mat_rgba[model.geom_matid[g]] if model.geom_matid[g] >= 0 \
                else model.geom_rgba[g]
            if model.geom_bodyid[g] == 0 or rgba[3] == 0.0:
                continue
            color = ColorRGBA(r=float(rgba[0]), g=float(rgba[1]), b=float(rgba[2]),
                              a=float(rgba[3]))
            for shape, scale, along_z in _shape_parts(int(model.geom_type[g]),
                                                      model.geom_size[g]):
                self._parts.append((g, shape, scale, color, along_z))

    def __len__(self) -> int:
        """Return the number of markers per frame."""
        return len(self._parts)

    @property
    def geoms(self) -> list[int]:
        """Return the geom index of each marker, in marker order (to recolour them)."""
        return [part[0] for part in self._parts]

    def __call__(self, data: mujoco.MjData, stamp: Time) -> MarkerArray:
        """Make the markers at the geom poses of ``data`` (geom_xpos/geom_xmat)."""
        markers = MarkerArray()
        quat = np.zeros(4)
        for index, (g, shape, scale, color, along_z) in enumerate(self._parts):
            rotation = data.geom_xmat[g]
            mujoco.mju_mat2Quat(quat, rotation)
            position = data.geom_xpos[g] + along_z * rotation.reshape(3, 3)[:, 2]
            marker = Marker(ns=self.namespace, id=index, type=shape, action=Marker.ADD,
                            color=color, frame_locked=False)
            marker.header.stamp = stamp
            marker.header.frame_id = WORLD_FRAME
            marker.pose.position = Point(**dict(zip('xyz', position.tolist())))
            marker.pose.orientation = Quaternion(w=quat[0], x=quat[1], y=quat[2], z=quat[3])
            marker.scale = Vector3(**dict(zip('xyz', scale)))
            markers.markers.append(marker)
        return markers
