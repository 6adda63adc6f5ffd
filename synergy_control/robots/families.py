"""Robot families, their morphology variants and the task each variant is trained on.

A family names a source MJCF (a gymnasium asset or one authored here) and its variants. A
variant is the source with limbs removed (``keep`` lists the bodies that stay) or added
(``add`` grows new segments), generated with ``mujoco.MjSpec``. The SMP/SOLAR sets are
Walker++ (6 walkers), Hopper++ (3 hoppers) and Humanoid2D++ (8 planar humanoids), each with a
declared split into training and zero-shot morphologies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium

GYM_ASSETS = Path(gymnasium.__file__).parent / 'envs' / 'mujoco' / 'assets'
OWN_ASSETS = Path(__file__).parent / 'assets'


@dataclass(frozen=True)
class TaskSpec:
    """Reward, termination and reset of the locomotion task (SMP / gymnasium v5 form).

    reward = forward_weight * dx/dt + healthy_reward * healthy - ctrl_cost_weight * |a|^2
    ``healthy_z`` is the torso-height range of the source model; variants whose standing
    height differs get it shifted by the difference.
    """

    forward_weight: float = 1.0
    healthy_reward: float = 1.0
    ctrl_cost_weight: float = 1e-3
    healthy_z: tuple[float, float] | None = None
    max_abs_angle: float | None = None
    max_abs_state: float | None = None
    terminate_when_unhealthy: bool = True
    reset_noise: float = 5e-3
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
    """One morphology: which bodies of the source stay and which segments are added."""

    name: str
    keep: tuple[str, ...] | None = None
    add: tuple[Segment, ...] = ()


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

    def limb_type(self, limb_name: str) -> int:
        """Index of the limb-type one-hot (4 types) from keywords in the body name."""
        for keyword, index in self.limb_types:
            if keyword in limb_name:
                return index
        return 3


_WALKER_BODIES = ('torso', 'thigh', 'leg', 'foot', 'thigh_left', 'leg_left', 'foot_left')
_HUMANOID2D_BODIES = ('torso', 'right_thigh', 'right_shin', 'left_thigh', 'left_shin',
                      'right_upper_arm', 'right_lower_arm', 'left_upper_arm', 'left_lower_arm')


def _without(bodies: tuple[str, ...], *removed: str) -> tuple[str, ...]:
    return tuple(b for b in bodies if b not in removed)


FAMILIES: dict[str, Family] = {
    'walker': Family(
        name='walker',
        source=GYM_ASSETS / 'walker2d_v5.xml',
        description='Planar biped (gymnasium Walker2d-v5); Walker++ of SMP/SOLAR.',
        task=TaskSpec(healthy_z=(0.8, 2.0), max_abs_angle=1.0),
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
    'hopper': Family(
        name='hopper',
        source=GYM_ASSETS / 'hopper.xml',
        description='Planar one-legged hopper (gymnasium Hopper-v5); Hopper++ of SMP.',
        task=TaskSpec(healthy_z=(0.7, float('inf')), max_abs_angle=0.2, max_abs_state=100.0),
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
    ),
    'half_cheetah': Family(
        name='half_cheetah',
        source=GYM_ASSETS / 'half_cheetah.xml',
        description='Planar quadruped-like runner (gymnasium HalfCheetah); never terminates.',
        task=TaskSpec(healthy_reward=0.0, ctrl_cost_weight=0.1, terminate_when_unhealthy=False,
                      reset_noise=0.1),
        limb_types=(('torso', 0), ('thigh', 1), ('shin', 2), ('foot', 3)),
        variants=(VariantSpec('half_cheetah'),),
        frame_skip=5,
    ),
    'ant': Family(
        name='ant',
        source=GYM_ASSETS / 'ant.xml',
        description='3D quadruped (gymnasium Ant); actuators re-ordered to limb pre-order.',
        task=TaskSpec(healthy_z=(0.2, 1.0), ctrl_cost_weight=0.5, reset_noise=0.1),
        limb_types=(('torso', 0), ('hip', 1), ('ankle', 2)),
        variants=(VariantSpec('ant'),),
        frame_skip=5,
        planar=False,
    ),
    'humanoid': Family(
        name='humanoid',
        source=GYM_ASSETS / 'humanoid.xml',
        description='3D humanoid (gymnasium Humanoid); flat observations only.',
        task=TaskSpec(forward_weight=1.25, healthy_reward=5.0, ctrl_cost_weight=0.1,
                      healthy_z=(1.0, 2.0), reset_noise=1e-2),
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
