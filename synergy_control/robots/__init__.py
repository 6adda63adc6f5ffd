"""Robot families and morphology variants (ROS-free)."""

from synergy_control.robots.families import (FAMILIES, MORPHOLOGY_SETS, TASK_SETS, Task, TaskSet,
                                             family_of, task_set, variant_names)
from synergy_control.robots.robot import Limb, Robot, RootSpec, get_robot

__all__ = ['FAMILIES', 'MORPHOLOGY_SETS', 'TASK_SETS', 'Limb', 'Robot', 'RootSpec', 'Task',
           'TaskSet', 'family_of', 'get_robot', 'task_set', 'variant_names']
