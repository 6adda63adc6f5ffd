"""Robot families and variants: limb trees, actuator order, hop distances, hashes."""

import numpy as np
import pytest

from synergy_control.robots import FAMILIES, Robot, get_robot, variant_names

SMP_SETS = {'walker': 6, 'hopper': 3, 'humanoid2d': 8}


@pytest.mark.parametrize('family,count', SMP_SETS.items())
def test_smp_sets_have_their_variants_and_a_split(family, count):
    fam = FAMILIES[family]
    assert len(fam.variants) == count
    names = {v.name for v in fam.variants}
    assert set(fam.zero_shot) < names and fam.zero_shot


def test_walker_variants_grow_one_limb_at_a_time():
    sizes = [get_robot(f'walker_{k}_main').model.nu for k in range(2, 8)]
    assert sizes == [1, 2, 3, 4, 5, 6]


def test_humanoid2d_full_has_nine_bodies_and_eight_actuators():
    robot = get_robot('humanoid_2d_9_full')
    assert len(robot.limbs) == 9 and robot.model.nu == 8


def test_hopper_5_gains_an_added_toe():
    robot = get_robot('hopper_5')
    assert robot.joint_names[-1] == 'toe_joint' and robot.model.nu == 4


@pytest.mark.parametrize('variant', variant_names())
def test_limb_preorder_matches_actuator_order(variant):
    robot = get_robot(variant)
    if not robot.supports_modular:
        pytest.skip('limbs with several joints')
    assert [limb.joint for limb in robot.limbs[1:]] == robot.joint_names
    for i, limb in enumerate(robot.limbs[1:], start=1):
        assert limb.parent < i  # pre-order: parents come first


@pytest.mark.parametrize('variant', variant_names())
def test_variants_stand_on_the_floor_and_start_healthy(variant):
    from synergy_control.envs import make_env
    env = make_env(variant)
    env.reset(seed=0)
    assert env.is_healthy()
    robot = env.robot
    if robot.task.healthy_z is not None:
        low, high = robot.task.healthy_z
        assert low < robot.torso_height(robot.model.qpos0) < high


def test_hop_distances_of_the_walker_tree():
    d = get_robot('walker_7_main').hop_distances
    names = [limb.name for limb in get_robot('walker_7_main').limbs]
    assert d[names.index('torso'), names.index('foot')] == 3
    assert d[names.index('foot'), names.index('foot_left')] == 6
    np.testing.assert_array_equal(d, d.T)


def test_model_hash_is_stable_and_distinguishes_variants():
    assert Robot('walker_7_main').model_hash == get_robot('walker_7_main').model_hash
    hashes = {get_robot(v).model_hash for v in variant_names()}
    assert len(hashes) == len(variant_names())


def test_control_period_is_timestep_times_frame_skip():
    robot = get_robot('walker_7_main')
    assert robot.control_period == pytest.approx(0.008)


def test_unknown_variant_names_the_choices():
    with pytest.raises(KeyError, match='walker_7_main'):
        get_robot('walker_99')


def test_ant_actuators_are_reordered_to_limb_preorder():
    robot = get_robot('ant')
    assert robot.joint_names[:2] == ['hip_1', 'ankle_1']
    assert robot.actuator_names == robot.joint_names
