"""A robot variant built from its family's MJCF: limbs, joints, actuators, root and hash.

Everything downstream (environments, observations, export, the ROS nodes) reads these facts
from a :class:`Robot`, so training and deployment cannot disagree about joint order, control
ranges or the control period.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from functools import lru_cache

import mujoco
import numpy as np

from synergy_control.robots.families import Family, Segment, TaskSpec, VariantSpec, family_of


@dataclass(frozen=True)
class Limb:
    """One node of the limb tree: the torso or a body driven by exactly one actuated hinge."""

    name: str
    body_id: int
    parent: int
    joint: str | None
    limb_type: int


@dataclass(frozen=True)
class RootSpec:
    """How the floating base is represented in qpos/qvel.

    ``planar``: slide x, slide z and hinge y joints (walker family); ``free``: one free joint.
    ``offset`` maps joint values to world coordinates: world = qpos - ref + body_pos.
    """

    kind: str
    joint_names: tuple[str, ...]
    qpos_adr: tuple[int, ...]
    qvel_adr: tuple[int, ...]
    offset: tuple[float, ...]


def _subtree_joint_names(body: mujoco.MjsBody) -> set[str]:
    return {j.name for j in body.find_all(mujoco.mjtObj.mjOBJ_JOINT)}


def _remove_bodies(spec: mujoco.MjSpec, keep: tuple[str, ...]) -> None:
    root = spec.worldbody.first_body()
    doomed = [b for b in root.find_all(mujoco.mjtObj.mjOBJ_BODY)
              if b.name not in keep and b.parent.name in keep + (root.name,)]
    for body in doomed:
        joints = _subtree_joint_names(body)
        for actuator in [a for a in spec.actuators if a.target in joints]:
            spec.delete(actuator)
        spec.delete(body)


def _add_segment(spec: mujoco.MjSpec, segment: Segment) -> None:
    body = spec.body(segment.parent).add_body(name=segment.name, pos=list(segment.pos))
    joint_name = f'{segment.name}_joint'
    body.add_joint(name=joint_name, type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, -1, 0],
                   range=list(segment.range_deg), limited=mujoco.mjtLimited.mjLIMITED_TRUE)
    tip = np.asarray(segment.direction) * segment.length
    body.add_geom(name=f'{segment.name}_geom', type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                  fromto=[0, 0, 0, *tip], size=[segment.radius, 0, 0])
    spec.add_actuator(name=joint_name, target=joint_name, trntype=mujoco.mjtTrn.mjTRN_JOINT,
                      gear=[segment.gear, 0, 0, 0, 0, 0], ctrlrange=[-1, 1],
                      ctrllimited=mujoco.mjtLimited.mjLIMITED_TRUE)


def _lowest_point(model: mujoco.MjModel) -> float:
    """Lowest z of the robot's capsules, spheres and boxes at qpos0 (floor geoms excluded)."""
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    lowest = np.inf
    for g in range(model.ngeom):
        if model.geom_bodyid[g] == 0:
            continue
        size, pos = model.geom_size[g], data.geom_xpos[g]
        rot = data.geom_xmat[g].reshape(3, 3)
        if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_CAPSULE:
            ends = [pos + s * size[1] * rot[:, 2] for s in (-1, 1)]
            z = min(e[2] for e in ends) - size[0]
        elif model.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX:
            z = pos[2] - np.abs(rot[2]) @ size
        else:
            z = pos[2] - size[0]
        lowest = min(lowest, z)
    return float(lowest)


def _order_actuators_by_limbs(spec: mujoco.MjSpec, joint_order: list[str]) -> None:
    """Re-create the motors so that actuator order is the limb pre-order (ant)."""
    fields = ('trntype', 'gear', 'ctrlrange', 'ctrllimited', 'forcerange', 'forcelimited',
              'gainprm', 'biasprm', 'gaintype', 'biastype', 'dyntype', 'dynprm')
    saved = {a.target: {f: np.copy(getattr(a, f)) if isinstance(getattr(a, f), np.ndarray)
                        else getattr(a, f) for f in fields} for a in spec.actuators}
    for actuator in list(spec.actuators):
        spec.delete(actuator)
    for joint in joint_order:
        spec.add_actuator(name=joint, target=joint, **saved[joint])


class Robot:
    """A compiled morphology variant and the facts every other module reads from it."""

    def __init__(self, variant: str):
        self.family: Family = family_of(variant)
        self.name = variant
        spec_v = next(v for v in self.family.variants if v.name == variant)
        with warnings.catch_warnings():  # gymnasium's humanoid.xml uses a deprecated attribute
            warnings.simplefilter('ignore', UserWarning)
            spec, height_shift = self._build_spec(spec_v)
            # Compiled from the spec, not from its XML text: to_xml rounds radians.
            self.model = spec.compile()
            self.xml: str = spec.to_xml()
        self.model_hash: str = hashlib.sha256(self.xml.encode()).hexdigest()[:16]
        self.task: TaskSpec = self._shifted_task(height_shift)
        self.frame_skip = self.family.frame_skip
        self.timestep = float(self.model.opt.timestep)
        self.control_period = self.timestep * self.frame_skip
        self.root = self._root_spec()
        self.limbs = self._limb_tree()
        self.actuator_names = [mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_ACTUATOR, i)
                               for i in range(self.model.nu)]
        act_joints = self.model.actuator_trnid[:, 0]
        self.joint_names = [mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_JOINT, int(j))
                            for j in act_joints]
        self.joint_qpos_adr = self.model.jnt_qposadr[act_joints].copy()
        self.joint_qvel_adr = self.model.jnt_dofadr[act_joints].copy()
        self.joint_ranges = self.model.jnt_range[act_joints].copy()
        self.ctrl_range = self.model.actuator_ctrlrange.copy()
        self.gear = self.model.actuator_gear[:, 0].copy()
        self.hop_distances = self._hop_distances()
        self.supports_modular = (all(limb.joint is not None for limb in self.limbs[1:])
                                 and len(self.limbs) == self.model.nu + 1)

    # ------------------------------------------------------------------ construction
    def _build_spec(self, variant: VariantSpec) -> tuple[mujoco.MjSpec, float]:
        spec = mujoco.MjSpec.from_file(str(self.family.source))
        spec.modelname = self.name
        for actuator in spec.actuators:
            actuator.name = actuator.target
        modified = variant.keep is not None or bool(variant.add)
        reference_low = _lowest_point(spec.compile()) if modified else 0.0
        if variant.keep is not None:
            _remove_bodies(spec, variant.keep)
        for segment in variant.add:
            _add_segment(spec, segment)
        if variant.terrain is not None:
            variant.terrain.apply(spec)
        order = self._preorder_actuated_joints(spec.compile())
        if order != [a.target for a in spec.actuators]:
            _order_actuators_by_limbs(spec, order)
        shift = 0.0
        if modified:
            shift = reference_low - _lowest_point(spec.compile())
            torso = spec.worldbody.first_body()
            torso.pos = torso.pos + np.array([0.0, 0.0, shift])
            for joint in torso.joints:
                if joint.type == mujoco.mjtJoint.mjJNT_SLIDE and joint.ref != 0.0:
                    joint.ref = joint.ref + shift
        return spec, shift

    @staticmethod
    def _preorder_actuated_joints(model: mujoco.MjModel) -> list[str]:
        actuated = set(model.actuator_trnid[:, 0].tolist())
        return [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j)
                for b in range(model.nbody)
                for j in range(model.body_jntadr[b], model.body_jntadr[b] + model.body_jntnum[b])
                if j in actuated]

    def _shifted_task(self, shift: float) -> TaskSpec:
        task = self.family.task
        if task.healthy_z is None or shift == 0.0:
            return task
        low, high = task.healthy_z
        return TaskSpec(**{**task.__dict__, 'healthy_z': (low + shift, high + shift)})

    def _root_spec(self) -> RootSpec:
        m = self.model
        torso = 1
        joints = range(m.body_jntadr[torso], m.body_jntadr[torso] + m.body_jntnum[torso])
        names = tuple(mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, j) for j in joints)
        qpos_adr = tuple(int(m.jnt_qposadr[j]) for j in joints)
        qvel_adr = tuple(int(m.jnt_dofadr[j]) for j in joints)
        if len(names) == 1 and m.jnt_type[m.body_jntadr[torso]] == mujoco.mjtJoint.mjJNT_FREE:
            return RootSpec('free', names, qpos_adr, qvel_adr, (0.0,) * 7)
        body_pos = m.body_pos[torso]
        offset = (body_pos[0] - m.qpos0[qpos_adr[0]], body_pos[2] - m.qpos0[qpos_adr[1]],
                  -m.qpos0[qpos_adr[2]])
        return RootSpec('planar', names, qpos_adr, qvel_adr, tuple(float(o) for o in offset))

    def _limb_tree(self) -> tuple[Limb, ...]:
        m = self.model
        actuated = set(m.actuator_trnid[:, 0].tolist())
        limbs: list[Limb] = [Limb(self._body_name(1), 1, -1, None, self.family.limb_type('torso'))]
        index_of_body = {1: 0}
        for b in range(2, m.nbody):
            joints = [j for j in range(m.body_jntadr[b], m.body_jntadr[b] + m.body_jntnum[b])
                      if j in actuated]
            parent_body = int(m.body_parentid[b])
            while parent_body not in index_of_body and parent_body > 0:
                parent_body = int(m.body_parentid[parent_body])
            if not joints:
                index_of_body[b] = index_of_body.get(parent_body, 0)
                continue
            joint = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, joints[0])
            name = self._body_name(b) or joint
            index_of_body[b] = len(limbs)
            limbs.append(Limb(name, b, index_of_body.get(parent_body, 0),
                              joint if len(joints) == 1 else None,
                              self.family.limb_type(joint if 'torso' not in name else name)))
        return tuple(limbs)

    def _body_name(self, body_id: int) -> str:
        return mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_BODY, body_id) or ''

    def _hop_distances(self) -> np.ndarray:
        n = len(self.limbs)
        dist = np.full((n, n), np.inf)
        np.fill_diagonal(dist, 0.0)
        for i, limb in enumerate(self.limbs):
            if limb.parent >= 0:
                dist[i, limb.parent] = dist[limb.parent, i] = 1.0
        for k in range(n):  # Floyd–Warshall
            dist = np.minimum(dist, dist[:, k:k + 1] + dist[k:k + 1, :])
        return dist

    # ------------------------------------------------------------------ state helpers
    def torso_height(self, qpos: np.ndarray) -> float | np.ndarray:
        """World z of the torso, from qpos alone (what the termination test reads).

        A float for one qpos [nq], an array [N] for states [N, nq] (the same sum per row).
        ``qpos.T[k]`` is a scalar of one state and a column of states (``qpos[..., k]`` would
        give one state a 0-d array, whose arithmetic costs ~1 µs more per call).
        """
        if self.root.kind == 'free':
            return _per_state(qpos.T[self.root.qpos_adr[0] + 2])
        return _per_state(qpos.T[self.root.qpos_adr[1]] + self.root.offset[1])

    def forward_position(self, qpos: np.ndarray) -> float | np.ndarray:
        """World x of the torso, whose rate is the forward-velocity reward ([N] for [N, nq])."""
        if self.root.kind == 'free':
            return _per_state(qpos.T[self.root.qpos_adr[0]])
        return _per_state(qpos.T[self.root.qpos_adr[0]] + self.root.offset[0])

    def torso_pitch(self, qpos: np.ndarray) -> float | np.ndarray:
        """Pitch of a planar torso (0 for a free root: 3D robots have no angle limit)."""
        if self.root.kind == 'free':
            return _per_state(np.zeros(np.shape(qpos)[:-1]))
        return _per_state(qpos.T[self.root.qpos_adr[2]] + self.root.offset[2])

    def describe(self) -> dict:
        """Summarise the variant as JSON-able data (``synergy-control robots --json``)."""
        return {
            'name': self.name,
            'family': self.family.name,
            'split': 'zero_shot' if self.name in self.family.zero_shot else 'train',
            'model_hash': self.model_hash,
            'limbs': [{'name': limb.name, 'parent': limb.parent, 'joint': limb.joint,
                       'type': limb.limb_type} for limb in self.limbs],
            'joint_names': self.joint_names,
            'actuator_names': self.actuator_names,
            'ctrl_range': self.ctrl_range.tolist(),
            'gear': self.gear.tolist(),
            'control_period': self.control_period,
            'timestep': self.timestep,
            'frame_skip': self.frame_skip,
            'root': self.root.kind,
            'supports_modular': self.supports_modular,
        }


@lru_cache(maxsize=None)
def get_robot(variant: str) -> Robot:
    """Return the (cached) robot of a variant name."""
    return Robot(variant)


def _per_state(value: np.ndarray | np.float64) -> float | np.ndarray:
    """Return a float for the value of one state, the array itself for a batch of states."""
    return float(value) if value.ndim == 0 else value
