"""EAR multi-task environments: rewards from the reference's definitions, terminations, targets."""

import mujoco
import numpy as np
import pytest

from synergy_control.envs import make_env
from synergy_control.envs.locomotion import OBJECTIVES, QUANTITIES
from synergy_control.robots import FAMILIES, TASK_SETS, Task, task_set
from synergy_control.robots.families import TASK_KINDS, TERM_QUANTITIES, Term


def reference_step(family, model, data, action, frame_skip, dt, task):
    """One step of the EAR reference env (seed 002's released code), written from it."""
    # qpos[0] for the planar robots; the ant's get_body_com('torso'): xpos as mj_step leaves it
    position = (lambda: data.xpos[1, :2].copy()) if family == 'ant' else (lambda: data.qpos[:2])
    x_before = position().copy()
    data.ctrl[:] = action
    mujoco.mj_step(model, data, nstep=frame_skip)
    mujoco.mj_rnePostConstraint(model, data)
    velocity = (position() - x_before) / dt
    action_cost = np.sum(np.square(action))
    kind, target = task.kind, task.target
    if family == 'half_cheetah':  # -|v - v*| or w * z_root, never done
        objective = -abs(velocity[0] - target) if kind == 'vel' else target * data.qpos[1]
        return objective - 0.1 * action_cost, False
    if family == 'ant':  # direction, contact cost, survive 1, done outside [0.2, 1]
        heading = target / 180 * np.pi
        forward = np.dot(velocity, (np.cos(heading), np.sin(heading)))
        contact = 0.5 * 1e-3 * np.sum(np.square(np.clip(data.cfrc_ext, -1, 1)))
        return forward - 0.5 * action_cost - contact + 1.0, not 0.2 <= data.qpos[2] <= 1.0
    height, angle = data.qpos[1:3]
    speed_error = -abs(velocity[0] - target) - 1e-3 * action_cost
    if family == 'hopper':
        state = np.concatenate([data.qpos, data.qvel])
        healthy = np.all(np.abs(state[2:]) < 100) and height > 0.7 and abs(angle) < 0.2
        return speed_error + 1.05, not healthy
    return speed_error + 1.0, not (0.8 < height < 2.0 and -1.0 < angle < 1.0)  # walker


CASES = [(s.robot, str(t)) for s in TASK_SETS.values() for t in (s.train[0], s.train[-1])]


@pytest.mark.parametrize('robot,task', CASES)
def test_task_reward_and_termination_follow_the_reference(robot, task):
    env = make_env(robot, task=task)
    env.reset(seed=4)
    model = env.model
    data = mujoco.MjData(model)
    data.qpos[:], data.qvel[:] = env.data.qpos, env.data.qvel
    mujoco.mj_forward(model, data)
    rng = np.random.default_rng(0)
    for _ in range(60):
        action = rng.uniform(-1, 1, model.nu)
        _, reward, terminated, truncated, _ = env.step(action)
        expected, done = reference_step(env.robot.family.name, model, data, action,
                                        env.robot.frame_skip, env.dt, Task.parse(task))
        assert reward == pytest.approx(expected, rel=1e-12, abs=1e-12)
        assert terminated == done and not truncated
        if done:
            break


def test_hopper_vel_pays_its_bonus_on_the_terminal_step_and_terminates():
    env = make_env('hopper_4', task='vel:1.0')
    env.reset(seed=0)
    for _ in range(200):
        _, reward, terminated, _, info = env.step(np.ones(3))
        if terminated:
            break
    assert terminated and info['reward_alive'] == 1.05


def test_cheetah_tasks_never_terminate_and_end_after_200_steps():
    env = make_env('half_cheetah', task='jump:5')
    env.reset(seed=0)
    flags = [env.step(np.ones(6))[2:4] for _ in range(200)]
    assert flags[-1] == (False, True) and not any(any(f) for f in flags[:-1])


@pytest.mark.parametrize('z,healthy', [(1.0, True), (1.0 + 1e-9, False), (0.2, True),
                                       (0.2 - 1e-9, False)])
def test_ant_dir_height_range_is_closed(z, healthy):
    env = make_env('ant', task='dir:90')
    env.reset(seed=0)
    qpos = env.data.qpos.copy()
    qpos[2] = z
    env.set_state(qpos, env.data.qvel)
    assert env.is_healthy() == healthy


def test_dir_task_rewards_the_velocity_along_its_heading():
    env = make_env('ant', task='dir:90')
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.zeros(8))
    assert info['reward_objective'] == pytest.approx(
        info['x_velocity'] * np.cos(np.pi / 2) + info['y_velocity'], abs=1e-12)


def test_training_targets_are_the_references():
    assert [t.target for t in task_set('half_cheetah_vel').train] == list(range(1, 11))
    for name in ('walker_vel', 'hopper_vel'):
        np.testing.assert_array_equal([t.target for t in task_set(name).train],
                                      np.linspace(0.2, 2, 10))
    assert [t.target for t in task_set('ant_dir').train] == list(range(0, 360, 15))
    assert [str(t) for t in task_set('half_cheetah_run_jump').train] == [
        'vel:1', 'vel:2', 'vel:3', 'vel:4', 'vel:5', 'vel:6', 'vel:7',
        'jump:1', 'jump:5', 'jump:10']
    assert task_set('half_cheetah_vel').adapt == ('vel', 0.0, 9.9, 0.1)
    for s in TASK_SETS.values():
        assert all(make_env(s.robot, task=t).episode_steps == 200 for t in s.train[:1])


def test_families_describe_their_tasks():
    described = FAMILIES['half_cheetah'].describe_tasks()
    assert list(described['kinds']) == ['forward', 'vel', 'jump']
    assert [s['name'] for s in described['sets']] == ['half_cheetah_vel',
                                                      'half_cheetah_run_jump']
    assert FAMILIES['humanoid'].describe_tasks() == {
        'kinds': {'forward': described['kinds']['forward']}, 'sets': []}


@pytest.mark.parametrize('robot,task,message', [
    ('half_cheetah', 'fly:3', "unknown task 'fly:3'"),
    ('walker_7_main', 'dir:45', "'walker' has no 'dir' task \\('dir:45'\\); its tasks: "
                                "forward, vel"),
    ('hopper_4', 'vel', "task 'vel'"),
    ('hopper_4', 'vel:fast', "unknown task 'vel:fast'"),
    ('ant', 'dir:inf', "task 'dir:inf'"),
])
def test_unknown_or_malformed_task_is_refused_naming_it(robot, task, message):
    with pytest.raises(ValueError, match=message):
        make_env(robot, task=task)


def test_task_set_lookup_names_the_choices():
    with pytest.raises(KeyError, match="unknown task set 'cheetah'; known: half_cheetah_vel"):
        task_set('cheetah')


def test_every_declared_quantity_and_kind_is_measured():
    assert tuple(QUANTITIES) == TERM_QUANTITIES and tuple(OBJECTIVES) == tuple(TASK_KINDS)
    with pytest.raises(ValueError, match="quantity 'speed' is not one of objective"):
        Term('speed')


def test_adaptation_tasks_are_drawn_on_the_references_grid():
    tasks = task_set('hopper_vel').adaptation_tasks(np.random.default_rng(0), 400)
    targets = {t.target for t in tasks}
    assert {t.kind for t in tasks} == {'vel'} and targets == {k / 10 for k in range(20)}
    headings = {t.target for t in task_set('ant_dir').adaptation_tasks(
        np.random.default_rng(0), 50)}
    assert headings <= set(range(360)) and len(headings) > 40
    with pytest.raises(ValueError, match="'half_cheetah_run_jump' has no adaptation range"):
        task_set('half_cheetah_run_jump').adaptation_tasks(np.random.default_rng(0), 1)
