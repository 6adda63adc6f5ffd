"""Offline evaluation: a policy in another world of its own body (a terrain), refused otherwise."""

from pathlib import Path

import pytest

from synergy_control.cli import main
from synergy_control.evaluation import evaluate

WALKER = Path(__file__).resolve().parents[1] / 'models' / 'td3' / 'walker_td3.onnx'


def test_a_flat_policy_walks_in_a_terrain_world_of_its_body(capsys):
    flat = evaluate(WALKER, episodes=1, seed=3)
    stairs = evaluate(WALKER, episodes=1, seed=3, world='walker_7_stairs')
    assert (flat['robot'], flat['world']) == ('walker_7_main', 'walker_7_main')
    assert (stairs['robot'], stairs['world']) == ('walker_7_main', 'walker_7_stairs')
    assert stairs['mean_return'] != flat['mean_return']  # the stairs are under its feet
    assert main(['evaluate', '--policy', str(WALKER), '--episodes', '1', '--world',
                 'walker_7_slope']) == 0
    assert "in walker_7_slope's world" in capsys.readouterr().out


def test_a_world_of_another_body_is_refused():
    with pytest.raises(ValueError, match="world 'hopper_4' is not robot 'walker_7_main'.*"
                                         'joint_names'):
        evaluate(WALKER, episodes=1, world='hopper_4')


def test_the_gymnasium_judge_agrees_with_evaluate_on_the_walker():
    """Walker2d-v5 is our walker bit for bit: gymnasium's own loop gives the same returns."""
    from synergy_control.evaluation import judge_in_gymnasium
    judged = judge_in_gymnasium(WALKER, 'Walker2d-v5', episodes=1)
    ours = evaluate(WALKER, episodes=1)
    assert judged['returns'][0] == pytest.approx(ours['results'][0]['episode_return'], rel=1e-9)
    assert judged['lengths'][0] == ours['results'][0]['length']


def test_the_gymnasium_judge_refuses_another_body_naming_the_joints():
    from synergy_control.evaluation import judge_in_gymnasium
    with pytest.raises(ValueError, match="'Hopper-v5' actuates joints .*thigh_left_joint"):
        judge_in_gymnasium(WALKER, 'Hopper-v5', episodes=1)


SOLAR = Path(__file__).resolve().parents[1] / 'models' / 'walker_solar.onnx'


def test_the_gymnasium_judge_feeds_a_modular_policy_tokens_of_gymnasiums_state():
    """SOLAR's limb tokens, built from Walker2d-v5's own state, give our evaluate's returns."""
    from synergy_control.evaluation import judge_in_gymnasium
    judged = judge_in_gymnasium(SOLAR, 'Walker2d-v5', episodes=1, robot='walker_7_main')
    ours = evaluate(SOLAR, 'walker_7_main', episodes=1)
    assert judged['returns'][0] == pytest.approx(ours['results'][0]['episode_return'], rel=1e-9)
    assert judged['lengths'][0] == ours['results'][0]['length']


def test_the_gymnasium_judge_refuses_modular_tokens_of_joints_in_another_order(tmp_path):
    """The same joints declared in another order would give tokens of the wrong limbs."""
    import gymnasium
    from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv
    from synergy_control.evaluation import judge_in_gymnasium
    xml = (Path(gymnasium.__file__).parent / 'envs/mujoco/assets/walker2d_v5.xml').read_text()
    lines = xml.splitlines(keepends=True)
    right = next(i for i, line in enumerate(lines) if '<body name="thigh"' in line)
    left = next(i for i, line in enumerate(lines) if '<body name="thigh_left"' in line)
    end = next(i for i in range(left, len(lines)) if lines[i].startswith('    </body>'))
    swapped = lines[:right] + lines[left:end] + lines[right:left] + lines[end:]
    (tmp_path / 'swapped.xml').write_text(''.join(swapped))
    gymnasium.register('SwappedWalker-v0', entry_point=Walker2dEnv,
                       kwargs={'xml_file': str(tmp_path / 'swapped.xml')}, max_episode_steps=5)
    try:
        with pytest.raises(ValueError, match="'SwappedWalker-v0' has joints .*walker_7_main"):
            judge_in_gymnasium(SOLAR, 'SwappedWalker-v0', episodes=1, robot='walker_7_main')
    finally:
        del gymnasium.registry['SwappedWalker-v0']


EAR = Path(__file__).resolve().parents[1] / 'models' / 'half_cheetah_vel_ear.onnx'
#: The cheetah shipped until 2026-12-08, trained on joint velocities clipped to ±10.
EAR_CLIPPED = EAR.parent / 'ear' / 'half_cheetah_vel_ear_680k.onnx'


def test_the_gymnasium_judge_commands_a_multi_task_policy_and_measures_its_speed():
    """HalfCheetah-v5 under EAR's vel:3 command: the task's 200 steps, our evaluate's speed.

    The dynamics are gymnasium's bit for bit and the runtime builds the card's observation
    from gymnasium's state, so the speeds are equal; the return is gymnasium's own reward.
    """
    from synergy_control.evaluation import judge_in_gymnasium
    judged = judge_in_gymnasium(EAR, 'HalfCheetah-v5', episodes=1, task='vel:3')
    ours = evaluate(EAR, episodes=1, task='vel:3')
    assert judged['lengths'] == [200] == [ours['results'][0]['length']]
    assert judged['command'] == ours['command'] == 'vel:3'
    assert judged['speeds'][0] == pytest.approx(ours['results'][0]['speed'], abs=1e-9)
    assert abs(judged['speeds'][0] - 3.0) < 1.0  # it tracks the command, not a default task
    other = judge_in_gymnasium(EAR, 'HalfCheetah-v5', episodes=1, task='vel:1')
    assert other['speeds'][0] < judged['speeds'][0] - 1.0


def test_the_gymnasium_judge_feeds_the_cards_velocity_clip_not_gymnasiums_observation():
    """The 680k cheetah was trained on joint velocities clipped to ±10; HalfCheetah-v5
    observes them unclipped. Running at 10 m/s its legs pass 10 rad/s: fed gymnasium's own
    observation it ran 5.3 m/s there against 6.2 in ours. Built by the runtime, as the node
    builds it, the two are the same run.
    """
    from synergy_control.evaluation import judge_in_gymnasium
    from synergy_control.runtime import PolicyRuntime
    # the card's clip, not the family's (None)
    assert PolicyRuntime(EAR_CLIPPED).observe.velocity_clip == 10.0
    judged = judge_in_gymnasium(EAR_CLIPPED, 'HalfCheetah-v5', episodes=1, task='vel:10')
    ours = evaluate(EAR_CLIPPED, episodes=1, task='vel:10')
    assert judged['speeds'][0] == pytest.approx(ours['results'][0]['speed'], abs=1e-9)
    assert judged['speeds'][0] > 5.5
