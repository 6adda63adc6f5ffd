"""The policy observation: one function from a robot and its state (qpos, qvel).

The training environments, the simulation bridge and the policy node all call
:class:`ObservationBuilder`, so the observation a policy sees on the robot is the one it was
trained on. Two layouts:

``flat``
    gymnasium style: qpos without the world x (and y for a free root) then qvel clipped to
    the family's ``velocity_clip``: ±10 as gymnasium's Walker2d-v5 / Hopper-v5 clip it, none
    for HalfCheetah-v5 and Humanoid-v5, which do not. A policy card records the clip its
    policy was trained with, and the runtime applies that one. A family may append derived
    quantities (``Family.flat_extras``): the humanoid appends gymnasium Humanoid-v5's
    cinert[1:], cvel[1:], qfrc_actuator[6:] and cfrc_ext[1:], computed from the state (qpos,
    qvel) and the ctrl that drove it by ``mj_forward`` + ``mj_rnePostConstraint`` (solver warm
    start cleared, so the result is a function of those three alone). Such a layout needs
    ``ctrl``: the policy node passes the ctrl of its last command
    (``ActionScaling.command_to_ctrl``; zeros before the first).
``modular``
    SMP / SOLAR style: one 19-value token per limb (torso first, limb pre-order): body
    position (x relative to the torso; y is 0 where the family says its lateral position
    only names a side, ``Family.token_lateral``), linear velocity of the body frame's origin (SMP's
    mujoco-py ``xvelp``, i.e. ``mj_jacBody``; not the centre of mass, which differs by up
    to 6 m/s on a walker limb), clipped ±10, angular velocity,
    exponential map of the body orientation, limb-type one-hot (4), joint angle normalised to
    its range, and the joint range as (180 + degrees) / 360. The torso has angle 0, range 0.
"""

from __future__ import annotations

from typing import Literal

import mujoco
import numpy as np

from synergy_control.robots import Robot

MODES = ('flat', 'modular')
# Derived quantities a family's flat layout may append: the MjData field's rows (per body
# without the world, or per dof without the root's) and whether it depends on ctrl (actuator
# forces; contact forces through the constraint solve).
EXTRAS: dict[str, tuple[str, bool]] = {'cinert': ('bodies', False), 'cvel': ('bodies', False),
                                       'qfrc_actuator': ('joints', True),
                                       'cfrc_ext': ('bodies', True)}
TOKEN_FEATURES = ('pos_x', 'pos_y', 'pos_z', 'vel_x', 'vel_y', 'vel_z', 'angvel_x', 'angvel_y',
                  'angvel_z', 'expmap_x', 'expmap_y', 'expmap_z', 'type_0', 'type_1', 'type_2',
                  'type_3', 'joint_angle', 'range_low', 'range_high')
TOKEN_SIZE = len(TOKEN_FEATURES)
VELOCITY_CLIP = 10.0
_NEXT, _AFTER_NEXT = np.array([1, 2, 0]), np.array([2, 0, 1])  # cross-product index cycles
_FIELDS = ('xpos', 'cvel', 'subtree_com', 'xquat')  # the MjData fields the limb tokens read


def quat_to_expmap(quat_wxyz: np.ndarray) -> np.ndarray:
    """Exponential map (axis × angle) of unit quaternions [..., 4], w-first (MuJoCo order)."""
    rows = np.array(quat_wxyz, dtype=np.float64).reshape(-1, 4)
    return _expmap_columns(rows.T, _sin_half(rows)).T.reshape(np.shape(quat_wxyz)[:-1] + (3,))


def _sin_half(rows: np.ndarray) -> np.ndarray:
    """|xyz| of each quaternion row [K, 4], as ``np.linalg.norm`` of one row computes it.

    ``matmul`` of a row with itself is the BLAS ``ddot`` that ``norm`` calls, so each value is
    the per-row one bit for bit (``einsum`` sums differently); the sign of w changes no square.
    """
    vector = rows[:, 1:]
    return np.sqrt(np.matmul(vector[:, None, :], vector[:, :, None]).reshape(-1))


def _expmap_columns(quat: np.ndarray, sin_half: np.ndarray) -> np.ndarray:
    """Exponential maps [3, K] of quaternions given as columns [4, K] and their ``_sin_half``.

    Column-major so that every operation runs on contiguous rows of K values: on a few limbs
    numpy's cost is its per-call overhead, which strided or broadcast operands multiply.
    """
    sign = np.where(quat[0] >= 0.0, 1.0, -1.0)  # w >= 0 (a NaN w negates, as it always did)
    no_rotation = sin_half < 1e-12  # NaN is not: a diverged state stays NaN
    angle = 2.0 * np.arctan2(sin_half, sign * quat[0])
    # (sign q) / s = q / (sign s) exactly: IEEE division is symmetric in sign; where there is
    # no rotation any finite divisor will do (those columns are set to 0 below)
    expmap = quat[1:] / (sign * np.maximum(sin_half, 1e-12)) * angle
    np.copyto(expmap, 0.0, where=no_rotation)
    return expmap


class _Scratch:
    """A scratch ``MjData`` with the arrays a state is written to and read from, viewed once.

    Each attribute read of an ``MjData`` array makes a new numpy view (~1 µs): over a batch,
    and on a single env's step, the reads, not the numbers, were the cost.
    """

    def __init__(self, data: mujoco.MjData):
        self.data, self.qpos, self.qvel, self.ctrl = data, data.qpos, data.qvel, data.ctrl
        self.qacc_warmstart = data.qacc_warmstart
        self.fields = {name: getattr(data, name).reshape(-1) for name in _FIELDS}


class ObservationBuilder:
    """Builds the observation of one robot in one mode from (qpos, qvel)."""

    def __init__(self, robot: Robot, mode: str = 'flat',
                 velocity_clip: float | None | Literal['family'] = 'family',
                 lateral_position: bool | Literal['family'] = 'family'):
        """Build for ``robot`` in ``mode``; ``velocity_clip`` is the flat layout's qvel clip.

        ``lateral_position``: whether the limb tokens hold the bodies' y position (else 0;
        a flat observation drops nothing, so it is always true there). For both, ``'family'``
        (training) takes the robot family's; a policy card gives what its policy was trained
        with (clip None: unclipped).
        """
        if mode not in MODES:
            raise ValueError(f"observation mode must be one of {MODES}, got '{mode}'")
        if mode == 'modular' and not robot.supports_modular:
            raise ValueError(f"robot '{robot.name}' has limbs with several actuated joints: "
                             "the modular observation needs one hinge per limb")
        self.robot = robot
        self.mode = mode
        self._skip = 2 if robot.root.kind == 'free' else 1
        model = robot.model
        self._scratch = _Scratch(mujoco.MjData(model))  # the flat extras'
        self._token_scratch: list[_Scratch] = []  # one per state of a modular batch
        self._extras = robot.family.flat_extras if mode == 'flat' else ()
        self._root_dofs = 6 if robot.root.kind == 'free' else 3  # the root's dofs come first
        self._clip = robot.family.velocity_clip if velocity_clip == 'family' else velocity_clip
        lateral = robot.family.token_lateral if lateral_position == 'family' else lateral_position
        self._lateral = mode == 'flat' or bool(lateral)
        self.needs_ctrl = any(EXTRAS[name][1] for name in self._extras)
        # each extra's kept rows of the scratch MjData, flattened: views taken once
        self._extra_views = [getattr(self._scratch.data, name)[self._extra_rows(name).start:]
                             .reshape(-1) for name in self._extras]
        if mode == 'flat':
            self.size = model.nq - self._skip + model.nv + sum(
                len(self._extra_rows(name)) * self._extra_width(name) for name in self._extras)
        else:
            self.size = TOKEN_SIZE * len(robot.limbs)
            self._static_columns = self._static_token_part().T.copy()
            bodies = np.array([limb.body_id for limb in robot.limbs], dtype=np.int64)
            # Flat indices that gather an MjData field [nbody, k] as columns [k, limbs] in one
            # ``take`` (which reads the field flattened)
            self._gather = {name: width * rows[None, :] + np.arange(width)[:, None]
                            for name, width, rows in (
                                ('xpos', 3, bodies), ('cvel', 6, bodies), ('xquat', 4, bodies),
                                ('subtree_com', 3, model.body_rootid[bodies]))}
            self._quat_rows = 4 * bodies[:, None] + np.arange(4)[None, :]  # [limbs, 4]
            self._batch_layouts: dict[int, tuple] = {}  # state count -> _batch_layout
            joints = [robot.model.joint(limb.joint) for limb in robot.limbs[1:]]
            self._joint_qpos = np.array([j.qposadr[0] for j in joints], dtype=np.int64)
            low = np.array([j.range[0] for j in joints])
            self._joint_low, self._joint_span = low, np.array([j.range[1] for j in joints]) - low

    @property
    def velocity_clip(self) -> float | None:
        """The flat layout's qvel clip (None: unclipped), recorded by checkpoints and cards."""
        return self._clip

    @property
    def lateral_position(self) -> bool:
        """Whether the limb tokens hold the bodies' y position, recorded like the clip."""
        return self._lateral

    @property
    def num_tokens(self) -> int:
        """Limb tokens (modular) or 1 (flat)."""
        return len(self.robot.limbs) if self.mode == 'modular' else 1

    def _static_token_part(self) -> np.ndarray:
        """Tokens [limbs, 19] holding what does not change with the state: type, joint range."""
        static = np.zeros((len(self.robot.limbs), TOKEN_SIZE))
        for i, limb in enumerate(self.robot.limbs):
            static[i, 12 + limb.limb_type] = 1.0
            if limb.joint is not None:
                low, high = self.robot.model.joint(limb.joint).range
                static[i, 17:19] = (180.0 + np.degrees([low, high])) / 360.0
        return static

    def __call__(self, qpos: np.ndarray, qvel: np.ndarray,
                 ctrl: np.ndarray | None = None) -> np.ndarray:
        """Build the observation (float64) of this state; ``ctrl`` only if ``needs_ctrl``."""
        return self.batch(np.asarray(qpos)[None], np.asarray(qvel)[None],
                          None if ctrl is None else np.asarray(ctrl)[None])[0]

    def batch(self, qpos: np.ndarray, qvel: np.ndarray,
              ctrl: np.ndarray | None = None) -> np.ndarray:
        """Observations [N, size] (float64) of states [N, nq], [N, nv] (and ctrl [N, nu]).

        The flat qpos/qvel part is one array operation over the states; the derived extras
        and the limb tokens are MuJoCo computations on a scratch ``MjData``, one state at a
        time. Every row is the one-state observation bit for bit (a one-state call is a batch
        of one).
        """
        if self.mode == 'modular':
            return self._modular(qpos, qvel)
        velocity = qvel if self._clip is None else np.minimum(
            np.maximum(qvel, -self._clip), self._clip)  # np.clip's values, without its wrapper
        if not self._extras:
            return np.concatenate([qpos[:, self._skip:], velocity], axis=1)
        obs = np.empty((len(qpos), self.size))
        rows = [None] * len(qpos) if ctrl is None else ctrl
        for row, state_qpos, state_qvel, state_ctrl, clipped in zip(
                obs, qpos, qvel, rows, velocity):
            np.concatenate([state_qpos[self._skip:], clipped,
                            *self._derived(state_qpos, state_qvel, state_ctrl)], out=row)
        return obs

    def _extra_rows(self, name: str) -> range:
        """Rows of an extra kept: bodies without the world, or dofs without the root's."""
        if EXTRAS[name][0] == 'joints':
            return range(self._root_dofs, self.robot.model.nv)
        return range(1, self.robot.model.nbody)

    def _extra_width(self, name: str) -> int:
        return int(np.prod(getattr(self._scratch.data, name).shape[1:]))

    def _derived(self, qpos: np.ndarray, qvel: np.ndarray,
                 ctrl: np.ndarray | None) -> list[np.ndarray]:
        """Compute one state's extras: views of the scratch ``MjData`` (valid until the next)."""
        model, scratch = self.robot.model, self._scratch
        if self.needs_ctrl:
            if ctrl is None:
                raise ValueError(f"the '{self.robot.name}' observation needs the ctrl that "
                                 "drove the state (qfrc_actuator, cfrc_ext): pass ctrl")
            ctrl = np.asarray(ctrl, dtype=np.float64)
            if ctrl.shape != (model.nu,) or not np.isfinite(ctrl).all():
                raise ValueError(f"ctrl for '{self.robot.name}' must be {model.nu} finite "
                                 f"values, got shape {ctrl.shape}")
            scratch.ctrl[:] = ctrl
        scratch.qpos[:] = qpos
        scratch.qvel[:] = qvel
        scratch.qacc_warmstart[:] = 0.0
        mujoco.mj_forward(model, scratch.data)
        if 'cfrc_ext' in self._extras:
            mujoco.mj_rnePostConstraint(model, scratch.data)
        return self._extra_views

    def _modular(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Every limb's token of every state at once: features as rows over states × limbs.

        MuJoCo's kinematics run state by state on scratch ``MjData`` (one per state of the
        batch); then each feature is one numpy call over all limbs of all states (columns
        state-major: state 0's limbs, then state 1's), for a batch of one the same calls as
        for one state: a per-limb (or per-state) loop cost ~20 numpy calls per limb. The
        linear velocity is ``mj_objectVelocity``'s (world frame) over the limbs: ``cvel``
        moved from the subtree centre of mass to the body origin, v - (p - c) × ω, with
        ``mju_cross``'s products and differences, so each value equals the per-limb call's
        bit for bit (``test_observation.py`` checks every Walker++ and Humanoid2D++ variant
        against that loop).
        """
        model, count = self.robot.model, len(qpos)
        while len(self._token_scratch) < count:
            self._token_scratch.append(_Scratch(mujoco.MjData(model)))
        scratches = self._token_scratch[:count]
        for scratch, state_qpos, state_qvel in zip(scratches, qpos, qvel):
            scratch.qpos[:] = state_qpos
            scratch.qvel[:] = state_qvel
            mujoco.mj_kinematics(model, scratch.data)
            mujoco.mj_comPos(model, scratch.data)
            mujoco.mj_comVel(model, scratch.data)
        gather, quat_rows, torso_columns, joint_qpos, static_columns = self._batch_layout(count)
        # every state's fields, flattened and stacked (one state's own views for one);
        # take(gather[name]) reads them as columns [width, states × limbs]
        fields = scratches[0].fields if count == 1 else {
            name: np.array([scratch.fields[name] for scratch in scratches]) for name in _FIELDS}
        columns = static_columns.copy()  # [19, states × limbs]: type one-hot and range filled
        position = fields['xpos'].take(gather['xpos'])
        columns[0:3] = position
        columns[0] -= position[0].take(torso_columns)  # x relative to its state's torso
        if not self._lateral:
            columns[1] = 0.0
        spatial = fields['cvel'].take(gather['cvel'])
        angular = spatial[:3]
        offset = position - fields['subtree_com'].take(gather['subtree_com'])
        # mju_cross(offset, angular): component k is o[k+1] w[k+2] - o[k+2] w[k+1]
        cross = (offset.take(_NEXT, 0) * angular.take(_AFTER_NEXT, 0)
                 - offset.take(_AFTER_NEXT, 0) * angular.take(_NEXT, 0))
        np.minimum(np.maximum(spatial[3:] - cross, -VELOCITY_CLIP), VELOCITY_CLIP,
                   out=columns[3:6])
        columns[6:9] = angular
        xquat = fields['xquat']
        columns[9:12] = _expmap_columns(xquat.take(gather['xquat']),
                                        _sin_half(xquat.take(quat_rows)))
        joint_angles = columns[16].reshape(count, -1)
        joint_angles[:, 1:] = (qpos.take(joint_qpos) - self._joint_low) / self._joint_span
        return columns.T.reshape(count, -1)

    def _batch_layout(self, count: int) -> tuple:
        """Return the indices and static part of a batch of ``count`` states (once per count).

        Flat indices (``take`` reads an array flattened) into the states' stacked fields:
        each field as columns [width, states × limbs], the quaternions as rows [states ×
        limbs, 4]; per column, its state's torso column; into the stacked qpos, each state's
        joint angles [states, limbs - 1]. Then the static rows of the tokens (type one-hot,
        joint range) repeated per state.
        """
        if count not in self._batch_layouts:
            model, limbs = self.robot.model, len(self.robot.limbs)
            states = np.arange(count)
            gather = {name: (index[:, None, :] + len(index) * model.nbody * states[:, None])
                      .reshape(len(index), -1) for name, index in self._gather.items()}
            quat_rows = (self._quat_rows[None] + 4 * model.nbody * states[:, None, None])
            self._batch_layouts[count] = (
                gather, quat_rows.reshape(-1, 4), np.repeat(limbs * states, limbs),
                self._joint_qpos[None] + model.nq * states[:, None],
                np.tile(self._static_columns, (1, count)))
        return self._batch_layouts[count]

    def spec(self) -> dict:
        """Describe this observation for a policy card."""
        model = self.robot.model
        spec = {'mode': self.mode, 'size': self.size,
                'velocity_clip': self._clip if self.mode == 'flat' else VELOCITY_CLIP}
        if self.mode == 'flat':
            qpos_names = [self._qpos_name(i) for i in range(self._skip, model.nq)]
            qvel_names = [self._qvel_name(i) for i in range(model.nv)]
            spec['layout'] = [{'term': 'qpos', 'start': 0, 'names': qpos_names},
                              {'term': 'qvel', 'start': len(qpos_names), 'names': qvel_names}]
            start = len(qpos_names) + len(qvel_names)
            for name in self._extras:
                spec['layout'].append({'term': name, 'start': start,
                                       'names': self._extra_names(name)})
                start += len(spec['layout'][-1]['names'])
            if self._extras:
                spec['needs_ctrl'] = self.needs_ctrl
        else:
            spec['tokens'] = [limb.name for limb in self.robot.limbs]
            spec['token_features'] = list(TOKEN_FEATURES)
            if not self._lateral:  # absent (older cards): the y position is observed
                spec['lateral_position'] = False
        return spec

    def _extra_names(self, name: str) -> list[str]:
        """``body[k]`` per value (``joint`` per dof for qfrc_actuator)."""
        rows = self._extra_rows(name)
        if EXTRAS[name][0] == 'joints':
            return [self._qvel_name(i) for i in rows]
        model = self.robot.model
        return [f'{mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b)}[{k}]'
                for b in rows for k in range(self._extra_width(name))]

    def _qpos_name(self, index: int) -> str:
        joint = int(np.searchsorted(self.robot.model.jnt_qposadr, index, side='right') - 1)
        name = mujoco.mj_id2name(self.robot.model, mujoco.mjtObj.mjOBJ_JOINT, joint)
        offset = index - self.robot.model.jnt_qposadr[joint]
        return name if self.robot.model.jnt_type[joint] > 1 else f'{name}[{offset}]'

    def _qvel_name(self, index: int) -> str:
        joint = int(self.robot.model.dof_jntid[index])
        name = mujoco.mj_id2name(self.robot.model, mujoco.mjtObj.mjOBJ_JOINT, joint)
        offset = index - self.robot.model.jnt_dofadr[joint]
        return name if self.robot.model.jnt_type[joint] > 1 else f'{name}[{offset}]'
