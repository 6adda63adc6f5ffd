"""Robot families, their morphology variants and the task each variant is trained on.

A family names a source MJCF (a gymnasium asset or one authored here) and its variants. A
variant is the source with limbs removed (``keep`` lists the bodies that stay) or added
(``add`` grows new segments), generated with ``mujoco.MjSpec``. The SMP/SOLAR sets are
Walker++ (6 walkers), Hopper++ (3 hoppers) and Humanoid2D++ (8 planar humanoids), each with a
declared split into training and zero-shot morphologies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import gymnasium
import numpy as np

from synergy_control.robots.terrains import Terrain

GYM_ASSETS = Path(gymnasium.__file__).parent / 'envs' / 'mujoco' / 'assets'
OWN_ASSETS = Path(__file__).parent / 'assets'


TERM_QUANTITIES = ('objective', 'healthy', 'alive', 'ctrl', 'contact')


@dataclass(frozen=True)
class Term:
    """One reward term: ``weight`` times a quantity the environment measures each step.

    Quantities (defined once, in ``synergy_control.envs.locomotion.QUANTITIES``):
    ``objective`` (what the task asks for: forward velocity by default, see :class:`Task`),
    ``healthy`` (1 while healthy), ``alive`` (always 1, also on the terminal step), ``ctrl``
    (|ctrl|^2 of the controls the simulator received) and ``contact`` (|cfrc_ext|^2, each
    force clipped to ``TaskSpec.contact_force_clip`` when set). ``max_cost`` clips the
    weighted term (gymnasium's ``contact_cost_range``).
    """

    quantity: str
    weight: float = 1.0
    max_cost: float | None = None

    def __post_init__(self) -> None:
        """Refuse a quantity the environment does not measure, naming it."""
        if self.quantity not in TERM_QUANTITIES:
            raise ValueError(f"reward term quantity '{self.quantity}' is not one of "
                             f"{', '.join(TERM_QUANTITIES)}")


@dataclass(frozen=True)
class TaskSpec:
    """Reward, termination and reset of a locomotion task (gymnasium v5 form).

    reward = sum(rewards) - sum(costs), each a :class:`Term`; summed in this order, as
    gymnasium does, so the reward is bit-equal to gymnasium's. The ``objective`` velocity is
    measured on the root (``velocity_of='root'``: torso position from qpos), on the mass centre
    of all bodies (``'com'``, gymnasium's Humanoid) or on the torso body's frame (``'body'``,
    gymnasium's Ant and the EAR Ant-Dir's ``get_body_com``); the last two read MjData as
    ``mj_step`` leaves it, as those environments do. ``reset_velocity`` draws the initial qvel
    noise ``'uniform'`` (Walker2d/Hopper/Humanoid) or ``'normal'`` (HalfCheetah/Ant, scale
    ``reset_noise``). ``healthy_z`` is the torso-height range of the source model (open, or
    closed when ``healthy_z_closed``, as Ant-v5 and the EAR Ant-Dir); variants whose standing
    height differs get it shifted by the difference.
    """

    rewards: tuple[Term, ...] = (Term('objective'), Term('healthy'))
    costs: tuple[Term, ...] = (Term('ctrl', 1e-3),)
    velocity_of: str = 'root'
    contact_force_clip: float | None = None
    healthy_z: tuple[float, float] | None = None
    healthy_z_closed: bool = False
    max_abs_angle: float | None = None
    max_abs_state: float | None = None
    terminate_when_unhealthy: bool = True
    reset_noise: float = 5e-3
    reset_velocity: str = 'uniform'
    episode_steps: int = 1000


@dataclass(frozen=True)
class Segment:
    """A limb added to a variant: a capsule body with a hinge (axis -y) and a motor."""

    name: str
    parent: str
    pos: tuple[float, float, float]
    direction: tuple[float, float, float]
    length: float
    radius: float
    range_deg: tuple[float, float]
    gear: float


@dataclass(frozen=True)
class VariantSpec:
    """One morphology: bodies kept, segments added, the ground (``terrain``) it stands on."""

    name: str
    keep: tuple[str, ...] | None = None
    add: tuple[Segment, ...] = ()
    terrain: Terrain | None = None


@dataclass(frozen=True)
class Family:
    """A source model, its limb-type classifier and its variants with their split."""

    name: str
    source: Path
    task: TaskSpec
    limb_types: tuple[tuple[str, int], ...]
    variants: tuple[VariantSpec, ...]
    zero_shot: tuple[str, ...] = ()
    frame_skip: int = 4
    planar: bool = True
    description: str = ''
    flat_extras: tuple[str, ...] = ()
    velocity_clip: float | None = 10.0
    #: Whether the modular limb tokens hold the bodies' lateral (y) position. A planar robot
    #: has no lateral freedom: there it is a constant per body that only says which side a
    #: limb is on, so a policy trained on a one-legged humanoid saw its leg at y = -0.08 and
    #: failed on the mirror image, whose leg is at +0.08 and whose tokens differ in nothing
    #: else. Walkers and hoppers have every body at y = 0.
    token_lateral: bool = True
    task_kinds: dict[str, TaskSpec] = field(default_factory=dict)

    def task_spec(self, task: 'Task') -> TaskSpec:
        """Return the reward and termination of a task kind (ValueError naming it if unknown)."""
        if task.kind == 'forward':
            return self.task
        if task.kind not in self.task_kinds:
            raise ValueError(f"robot family '{self.name}' has no '{task.kind}' task ('{task}'); "
                             f"its tasks: {', '.join(self.supported_kinds())}")
        return self.task_kinds[task.kind]

    def supported_kinds(self) -> list[str]:
        """Task kinds this family's environment accepts, the gymnasium 'forward' task first."""
        return ['forward', *self.task_kinds]

    def describe_tasks(self) -> dict:
        """Task kinds and the training sets over this family (``synergy-control robots``)."""
        return {'kinds': {kind: TASK_KINDS[kind] for kind in self.supported_kinds()},
                'sets': [s.describe() for s in TASK_SETS.values() if s.family == self.name]}

    def limb_type(self, limb_name: str) -> int:
        """Index of the limb-type one-hot (4 types) from keywords in the body name."""
        for keyword, index in self.limb_types:
            if keyword in limb_name:
                return index
        return 3


_WALKER_BODIES = ('torso', 'thigh', 'leg', 'foot', 'thigh_left', 'leg_left', 'foot_left')
_HUMANOID2D_BODIES = ('torso', 'right_thigh', 'right_shin', 'left_thigh', 'left_shin',
                      'right_upper_arm', 'right_lower_arm', 'left_upper_arm', 'left_lower_arm')


# gymnasium HalfCheetah-v5 / Ant-v5, whose costs the EAR tasks keep.
_CHEETAH_TASK = TaskSpec(rewards=(Term('objective'),), costs=(Term('ctrl', 0.1),),
                         terminate_when_unhealthy=False, reset_noise=0.1, reset_velocity='normal')
_ANT_TASK = TaskSpec(costs=(Term('ctrl', 0.5), Term('contact', 5e-4)), velocity_of='body',
                     contact_force_clip=1.0, healthy_z=(0.2, 1.0), healthy_z_closed=True,
                     reset_noise=0.1, reset_velocity='normal')


def _without(bodies: tuple[str, ...], *removed: str) -> tuple[str, ...]:
    return tuple(b for b in bodies if b not in removed)


FAMILIES: dict[str, Family] = {
    'walker': Family(
        name='walker',
        source=GYM_ASSETS / 'walker2d_v5.xml',
        description='Planar biped (gymnasium Walker2d-v5); Walker++ of SMP/SOLAR.',
        task=TaskSpec(healthy_z=(0.8, 2.0), max_abs_angle=1.0),
        task_kinds={'vel': TaskSpec(rewards=(Term('objective'), Term('alive')),
                                    healthy_z=(0.8, 2.0), max_abs_angle=1.0, episode_steps=200)},
        limb_types=(('torso', 0), ('thigh', 1), ('leg', 2), ('foot', 3)),
        variants=(
            VariantSpec('walker_2_main', keep=_WALKER_BODIES[:2]),
            VariantSpec('walker_3_main', keep=_WALKER_BODIES[:3]),
            VariantSpec('walker_4_main', keep=_WALKER_BODIES[:4]),
            VariantSpec('walker_5_main', keep=_WALKER_BODIES[:5]),
            VariantSpec('walker_6_main', keep=_WALKER_BODIES[:6]),
            VariantSpec('walker_7_main'),
        ),
        zero_shot=('walker_3_main', 'walker_6_main'),
    ),
    # SAR's terrain transfer (seed 003): the full walker on generated ground, a family of its
    # own so that Walker++ stays the SMP set.
    'walker_terrain': Family(
        name='walker_terrain',
        source=GYM_ASSETS / 'walker2d_v5.xml',
        description='Walker2d-v5 on generated terrain: hills, a rough heightfield, stairs.',
        task=TaskSpec(healthy_z=(0.8, 2.0), max_abs_angle=1.0),
        limb_types=(('torso', 0), ('thigh', 1), ('leg', 2), ('foot', 3)),
        variants=(
            VariantSpec('walker_7_slope', terrain=Terrain('slope', 0.3, angle=5.0)),
            VariantSpec('walker_7_rough', terrain=Terrain('rough', 0.08, block=0.2)),
            VariantSpec('walker_7_stairs', terrain=Terrain('stairs', 0.32, block=0.4)),
        ),
    ),
    'hopper': Family(
        name='hopper',
        source=GYM_ASSETS / 'hopper.xml',
        description='Planar one-legged hopper (gymnasium Hopper-v5); Hopper++ of SMP.',
        task=TaskSpec(healthy_z=(0.7, float('inf')), max_abs_angle=0.2, max_abs_state=100.0),
        task_kinds={'vel': TaskSpec(rewards=(Term('objective'), Term('alive', 1.05)),
                                    healthy_z=(0.7, float('inf')), max_abs_angle=0.2,
                                    max_abs_state=100.0, episode_steps=200)},
        limb_types=(('torso', 0), ('thigh', 1), ('leg', 2), ('foot', 3), ('toe', 3)),
        variants=(
            VariantSpec('hopper_3', keep=('torso', 'thigh', 'leg')),
            VariantSpec('hopper_4'),
            VariantSpec('hopper_5', add=(Segment('toe', 'foot', (0.26, 0.0, 0.1), (1.0, 0.0, 0.0),
                                                 0.12, 0.05, (-45.0, 45.0), 100.0),)),
        ),
        zero_shot=('hopper_5',),
    ),
    'humanoid2d': Family(
        name='humanoid2d',
        source=OWN_ASSETS / 'humanoid2d.xml',
        description='Planar humanoid authored here (9 bodies, 8 motors); Humanoid2D++.',
        task=TaskSpec(healthy_z=(0.85, 2.1), max_abs_angle=1.0),
        limb_types=(('torso', 0), ('thigh', 1), ('shin', 2), ('arm', 3)),
        variants=(
            VariantSpec('humanoid_2d_9_full'),
            VariantSpec('humanoid_2d_8_left_knee', keep=_without(_HUMANOID2D_BODIES, 'left_shin')),
            VariantSpec('humanoid_2d_8_right_knee',
                        keep=_without(_HUMANOID2D_BODIES, 'right_shin')),
            VariantSpec('humanoid_2d_7_left_arm',
                        keep=_without(_HUMANOID2D_BODIES, 'left_upper_arm', 'left_lower_arm')),
            VariantSpec('humanoid_2d_7_right_arm',
                        keep=_without(_HUMANOID2D_BODIES, 'right_upper_arm', 'right_lower_arm')),
            VariantSpec('humanoid_2d_7_lower_arms',
                        keep=_without(_HUMANOID2D_BODIES, 'left_lower_arm', 'right_lower_arm')),
            VariantSpec('humanoid_2d_7_left_leg',
                        keep=_without(_HUMANOID2D_BODIES, 'left_thigh', 'left_shin')),
            VariantSpec('humanoid_2d_7_right_leg',
                        keep=_without(_HUMANOID2D_BODIES, 'right_thigh', 'right_shin')),
        ),
        zero_shot=('humanoid_2d_7_left_leg', 'humanoid_2d_7_right_arm'),
        token_lateral=False,  # the zero-shot humanoids are the mirror images of training ones
    ),
    'half_cheetah': Family(
        name='half_cheetah',
        source=GYM_ASSETS / 'half_cheetah.xml',
        description='Planar quadruped-like runner (gymnasium HalfCheetah); never terminates.',
        task=_CHEETAH_TASK,
        velocity_clip=None,  # HalfCheetah-v5 observes its joint velocities unclipped
        task_kinds={'vel': replace(_CHEETAH_TASK, episode_steps=200),
                    'jump': replace(_CHEETAH_TASK, episode_steps=200)},
        limb_types=(('torso', 0), ('thigh', 1), ('shin', 2), ('foot', 3)),
        variants=(VariantSpec('half_cheetah'),),
        frame_skip=5,
    ),
    'ant': Family(
        name='ant',
        source=GYM_ASSETS / 'ant.xml',
        description='3D quadruped (gymnasium Ant); actuators re-ordered to limb pre-order.',
        task=_ANT_TASK,
        task_kinds={'dir': replace(_ANT_TASK, rewards=(Term('objective'), Term('alive')),
                                   episode_steps=200)},
        limb_types=(('torso', 0), ('hip', 1), ('ankle', 2)),
        variants=(VariantSpec('ant'),),
        frame_skip=5,
        planar=False,
    ),
    'humanoid': Family(
        name='humanoid',
        source=GYM_ASSETS / 'humanoid.xml',
        description='3D humanoid (gymnasium Humanoid-v5: observation, reward, termination).',
        task=TaskSpec(rewards=(Term('objective', 1.25), Term('healthy', 5.0)),
                      costs=(Term('ctrl', 0.1), Term('contact', 5e-7, max_cost=10.0)),
                      velocity_of='com', healthy_z=(1.0, 2.0), reset_noise=1e-2),
        flat_extras=('cinert', 'cvel', 'qfrc_actuator', 'cfrc_ext'),
        velocity_clip=None,
        limb_types=(('torso', 0), ('thigh', 1), ('shin', 2), ('arm', 3)),
        variants=(VariantSpec('humanoid'),),
        frame_skip=5,
        planar=False,
    ),
}


# The SMP / SOLAR multi-morphology sets.
MORPHOLOGY_SETS: dict[str, str] = {
    'walker++': 'walker',
    'hopper++': 'hopper',
    'humanoid2d++': 'humanoid2d',
}


def family_of(variant: str) -> Family:
    """Return the family that declares ``variant`` (KeyError naming the choices otherwise)."""
    for family in FAMILIES.values():
        if any(v.name == variant for v in family.variants):
            return family
    raise KeyError(f"unknown robot variant '{variant}'; known: {', '.join(variant_names())}")


def variant_names() -> list[str]:
    """All variant names, family by family."""
    return [v.name for f in FAMILIES.values() for v in f.variants]


# What each task kind's objective term measures (the target's meaning), for listings.
TASK_KINDS: dict[str, str] = {
    'forward': 'forward velocity along +x (the gymnasium task; no target)',
    'vel': '-|v_x - target| (target: forward speed, m/s)',
    'dir': 'velocity along the heading (target: heading, degrees from +x)',
    'jump': 'target * root height above its rest value (target: height weight)',
}


@dataclass(frozen=True)
class Task:
    """A task of a family's environment: a kind and its target, written ``'vel:3.0'``."""

    kind: str = 'forward'
    target: float | None = None

    def __post_init__(self) -> None:
        """Refuse unknown kinds and missing, spurious or non-finite targets, naming the task."""
        if self.kind not in TASK_KINDS:
            raise ValueError(f"unknown task '{self}': kind '{self.kind}' is not one of "
                             f"{', '.join(TASK_KINDS)}")
        if (self.target is None) != (self.kind == 'forward'):
            raise ValueError(f"task '{self}': 'forward' takes no target, the other kinds need "
                             "one (e.g. 'vel:3.0')")
        if self.target is not None and not math.isfinite(self.target):
            raise ValueError(f"task '{self}': the target must be a finite number")

    @classmethod
    def parse(cls, text: 'str | Task | None') -> 'Task':
        """Read ``'forward'``, ``'vel:3.0'``, ``'dir:45'`` or ``'jump:5'`` (None: forward)."""
        if text is None or isinstance(text, Task):
            return text or cls()
        kind, _, target = str(text).strip().partition(':')
        if not target:
            return cls(kind)
        try:
            value = float(target)
        except ValueError:
            raise ValueError(f"unknown task '{text}': the target '{target}' is not a number") \
                from None
        return cls(kind, value)

    def __str__(self) -> str:
        """Name the task in the form :meth:`parse` reads."""
        return self.kind if self.target is None else f'{self.kind}:{self.target:g}'


@dataclass(frozen=True)
class TaskSet:
    """The training tasks of one EAR multi-task environment and its adaptation range."""

    name: str
    family: str
    robot: str
    reference: str
    train: tuple[Task, ...]
    adapt: tuple[str, float, float, float] | None = None

    def adaptation_tasks(self, rng: np.random.Generator, count: int) -> list[Task]:
        """Draw new tasks as the reference's 'adapt' mode: uniform on the range's grid."""
        if self.adapt is None:
            raise ValueError(f"task set '{self.name}' has no adaptation range")
        kind, low, high, step = self.adapt
        steps = rng.integers(0, round((high - low) / step) + 1, size=count)
        return [Task(kind, float(round(low + step * k, 10))) for k in steps]

    def describe(self) -> dict:
        """JSON-able summary: training task names, adaptation kind, range and grid step."""
        adapt = None if self.adapt is None else {'kind': self.adapt[0],
                                                 'range': list(self.adapt[1:3]),
                                                 'step': self.adapt[3]}
        return {'name': self.name, 'robot': self.robot, 'reference': self.reference,
                'train': [str(t) for t in self.train], 'adapt': adapt}


def _tasks(kind: str, targets: 'np.ndarray | list[float]') -> tuple[Task, ...]:
    return tuple(Task(kind, float(t)) for t in targets)


# The EAR reference's environments (seed 002, 200-step episodes): training targets as its
# sample_tasks(mode='train') makes them; adaptation targets on the grid its 'adapt' mode draws
# from (randint(0, 100) / 10 m/s, randint(0, 20) / 10 m/s, randint(0, 360) degrees).
TASK_SETS: dict[str, TaskSet] = {s.name: s for s in (
    TaskSet('half_cheetah_vel', 'half_cheetah', 'half_cheetah', 'HalfCheetah-Vel',
            _tasks('vel', np.linspace(1, 10, 10)), ('vel', 0.0, 9.9, 0.1)),
    TaskSet('walker_vel', 'walker', 'walker_7_main', 'Walker-Vel',
            _tasks('vel', np.linspace(0.2, 2, 10)), ('vel', 0.0, 1.9, 0.1)),
    TaskSet('hopper_vel', 'hopper', 'hopper_4', 'Hopper-Vel',
            _tasks('vel', np.linspace(0.2, 2, 10)), ('vel', 0.0, 1.9, 0.1)),
    TaskSet('ant_dir', 'ant', 'ant', 'Ant-Dir',
            _tasks('dir', np.linspace(0, 360, 24, endpoint=False)), ('dir', 0.0, 359.0, 1.0)),
    TaskSet('half_cheetah_run_jump', 'half_cheetah', 'half_cheetah', 'HalfCheetah-RunJump',
            _tasks('vel', np.linspace(1, 7, 7)) + _tasks('jump', [1, 5, 10])),
)}


def task_set(name: str) -> TaskSet:
    """Return a task set by name (KeyError naming the choices otherwise)."""
    if name not in TASK_SETS:
        raise KeyError(f"unknown task set '{name}'; known: {', '.join(TASK_SETS)}")
    return TASK_SETS[name]
