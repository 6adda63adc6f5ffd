"""Robot families and morphology variants (ROS-free)."""

from synergy_control.robots.families import FAMILIES, MORPHOLOGY_SETS, family_of, variant_names
from synergy_control.robots.robot import Limb, Robot, RootSpec, get_robot

__all__ = ['FAMILIES', 'MORPHOLOGY_SETS', 'Limb', 'Robot', 'RootSpec', 'family_of',
           'get_robot', 'variant_names']
