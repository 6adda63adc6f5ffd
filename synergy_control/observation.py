"""The policy observation: one function from a robot and its state (qpos, qvel).

The training environments, the simulation bridge and the policy node all call
:class:`ObservationBuilder`, so the observation a policy sees on the robot is the one it was
trained on. Two layouts:

``flat``
    gymnasium style: qpos without the world x (and y for a free root) then qvel clipped to
    ±10. Identical to gymnasium's Walker2d-v5 / Hopper-v5 observation.
``modular``
    SMP / SOLAR style: one 19-value token per limb (torso first, limb pre-order): body
    position (x relative to the torso), linear velocity of the body frame's origin (SMP's
    mujoco-py ``xvelp``, i.e. ``mj_jacBody``; not the centre of mass, which differs by up
    to 6 m/s on a walker limb), clipped ±10, angular velocity,
    exponential map of the body orientation, limb-type one-hot (4), joint angle normalised to
    its range, and the joint range as (180 + degrees) / 360. The torso has angle 0, range 0.
"""

from __future__ import annotations

import mujoco
import numpy as np

from synergy_control.robots import Robot

MODES = ('flat', 'modular')
TOKEN_FEATURES = ('pos_x', 'pos_y', 'pos_z', 'vel_x', 'vel_y', 'vel_z', 'angvel_x', 'angvel_y',
                  'angvel_z', 'expmap_x', 'expmap_y', 'expmap_z', 'type_0', 'type_1', 'type_2',
                  'type_3', 'joint_angle', 'range_low', 'range_high')
TOKEN_SIZE = len(TOKEN_FEATURES)
VELOCITY_CLIP = 10.0


def quat_to_expmap(quat_wxyz: np.ndarray) -> np.ndarray:
    """Exponential map (axis × angle) of a unit quaternion, w-first (MuJoCo order)."""
    q = quat_wxyz if quat_wxyz[0] >= 0 else -quat_wxyz
    sin_half = np.linalg.norm(q[1:])
    if sin_half < 1e-12:
        return np.zeros(3)
    angle = 2.0 * np.arctan2(sin_half, q[0])
    return q[1:] / sin_half * angle


class ObservationBuilder:
    """Builds the observation of one robot in one mode from (qpos, qvel)."""

    def __init__(self, robot: Robot, mode: str = 'flat'):
        if mode not in MODES:
            raise ValueError(f"observation mode must be one of {MODES}, got '{mode}'")
        if mode == 'modular' and not robot.supports_modular:
            raise ValueError(f"robot '{robot.name}' has limbs with several actuated joints: "
                             "the modular observation needs one hinge per limb")
        self.robot = robot
        self.mode = mode
        self._skip = 2 if robot.root.kind == 'free' else 1
        model = robot.model
        self._scratch = mujoco.MjData(model)
        if mode == 'flat':
            self.size = model.nq - self._skip + model.nv
        else:
            self.size = TOKEN_SIZE * len(robot.limbs)
            self._static = self._static_token_part()
            joints = [robot.model.joint(limb.joint) for limb in robot.limbs[1:]]
            self._joint_qpos = np.array([j.qposadr[0] for j in joints], dtype=np.int64)
            low = np.array([j.range[0] for j in joints])
            self._joint_low, self._joint_span = low, np.array([j.range[1] for j in joints]) - low

    @property
    def num_tokens(self) -> int:
        """Limb tokens (modular) or 1 (flat)."""
        return len(self.robot.limbs) if self.mode == 'modular' else 1

    def _static_token_part(self) -> np.ndarray:
        """Type one-hot and joint range, which do not change with the state."""
        static = np.zeros((len(self.robot.limbs), 6))
        for i, limb in enumerate(self.robot.limbs):
            static[i, limb.limb_type] = 1.0
            if limb.joint is not None:
                low, high = self.robot.model.joint(limb.joint).range
                static[i, 4:6] = (180.0 + np.degrees([low, high])) / 360.0
        return static

    def __call__(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Build the observation (float64) of this state."""
        if self.mode == 'flat':
            velocity = np.clip(qvel, -VELOCITY_CLIP, VELOCITY_CLIP)
            return np.concatenate([qpos[self._skip:], velocity])
        return self._modular(qpos, qvel)

    def _modular(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        model, data = self.robot.model, self._scratch
        data.qpos[:] = qpos
        data.qvel[:] = qvel
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        mujoco.mj_comVel(model, data)
        limbs = self.robot.limbs
        tokens = np.zeros((len(limbs), TOKEN_SIZE))
        torso_x = data.xpos[limbs[0].body_id, 0]
        velocity = np.zeros(6)
        for i, limb in enumerate(limbs):
            b = limb.body_id
            mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_XBODY, b, velocity, 0)
            tokens[i, 0:3] = data.xpos[b]
            tokens[i, 0] -= torso_x
            tokens[i, 3:6] = np.clip(velocity[3:], -VELOCITY_CLIP, VELOCITY_CLIP)
            tokens[i, 6:9] = velocity[:3]
            tokens[i, 9:12] = quat_to_expmap(data.xquat[b])
        tokens[1:, 16] = (qpos[self._joint_qpos] - self._joint_low) / self._joint_span
        tokens[:, 12:16] = self._static[:, :4]
        tokens[:, 17:19] = self._static[:, 4:6]
        return tokens.reshape(-1)

    def spec(self) -> dict:
        """Describe this observation for a policy card."""
        model = self.robot.model
        spec = {'mode': self.mode, 'size': self.size, 'velocity_clip': VELOCITY_CLIP}
        if self.mode == 'flat':
            qpos_names = [self._qpos_name(i) for i in range(self._skip, model.nq)]
            qvel_names = [self._qvel_name(i) for i in range(model.nv)]
            spec['layout'] = [{'term': 'qpos', 'start': 0, 'names': qpos_names},
                              {'term': 'qvel', 'start': len(qpos_names), 'names': qvel_names}]
        else:
            spec['tokens'] = [limb.name for limb in self.robot.limbs]
            spec['token_features'] = list(TOKEN_FEATURES)
        return spec

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
