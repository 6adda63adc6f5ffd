"""Distillation of per-robot experts into one policy before PPO (DAgger, issue 20)."""

from pathlib import Path

import numpy as np
import pytest

from synergy_control.export import export_untrained
from synergy_control.runtime import PolicyRuntime
from synergy_control.training import train
from synergy_control.training.checkpoint import agent_from_checkpoint
from synergy_control.training.config import ConfigError
from synergy_control.training.distill import Teachers
from synergy_control.training.vec_env import VectorEnv

ROBOTS = ['walker_2_main', 'walker_4_main']


@pytest.fixture(scope='module')
def experts(tmp_path_factory) -> dict[str, str]:
    """A (random, exported) flat-observation 'expert' for each robot: labels to imitate."""
    directory = tmp_path_factory.mktemp('experts')
    paths = {}
    for name in [*ROBOTS, 'walker_7_main']:
        export_untrained(name, directory / f'{name}.onnx')
        paths[name] = str(directory / f'{name}.onnx')
    return paths


def imitation_error(agent, teachers: Teachers, steps: int = 40) -> float:
    """Mean squared error of the agent's actions against the experts' on the experts' states."""
    envs = VectorEnv(ROBOTS, 4)
    obs = envs.reset(seed=123)
    errors = []
    for _ in range(steps):
        labels = teachers.actions(envs)
        for i, entry in enumerate(envs.entry):
            width = envs.act_dims[i]
            action = agent.act(obs[i, :envs.obs_dims[i]], deterministic=True,
                               robot=ROBOTS[entry])
            errors.append(np.square(action - labels[i, :width]).mean())
        obs = envs.step(labels).obs
    envs.close()
    return float(np.mean(errors))


SMALL_PPO = {'rollout_steps': 32, 'epochs': 8, 'minibatches': 2, 'learning_rate': 3e-3,
             'desired_kl': None, 'value_hidden_sizes': [32, 32]}


@pytest.mark.parametrize('teaching', [{'steps': 768},
                                      {'kickstart_steps': 768, 'kickstart_coef': 20.0}],
                         ids=['distillation', 'kickstarting'])
def test_teaching_brings_the_policy_near_each_robots_expert(tmp_path, smoke_config, experts,
                                                            teaching):
    """Distillation, or PPO with the decaying imitation term, ends nearer the experts than PPO."""
    teachers = [experts[name] for name in ROBOTS]
    common = dict(robot=None, robots=ROBOTS, num_envs=4, total_steps=768, ppo=SMALL_PPO)
    taught = train(config=smoke_config('ppo', **common,
                                       distill={'teachers': teachers, **teaching}),
                   run_dir=str(tmp_path / 'taught'), progress=False)
    plain = train(config=smoke_config('ppo', **common), run_dir=str(tmp_path / 'plain'),
                  progress=False)
    labels = Teachers(teachers, ROBOTS)
    taught_error = imitation_error(agent_from_checkpoint(taught / 'checkpoints' / 'last.pt'),
                                   labels)
    plain_error = imitation_error(agent_from_checkpoint(plain / 'checkpoints' / 'last.pt'),
                                  labels)
    assert taught_error < 0.5 * plain_error


def test_each_env_is_labelled_by_its_robots_expert_on_its_own_state(experts):
    """One graph call per robot, scattered back: each row is that env's own one-state label."""
    names = [*ROBOTS, 'walker_7_main']
    teachers = Teachers([experts[name] for name in names], names)
    single = {name: PolicyRuntime(experts[name]) for name in names}  # one state a call
    envs = VectorEnv(names, 7)  # 3, 2 and 2 envs: uneven groups
    envs.reset(seed=5)
    rng = np.random.default_rng(5)
    for _ in range(6):  # states apart: every env a state of its own
        labels = teachers.actions(envs)
        for i, env in enumerate(envs.envs):
            width = envs.act_dims[i]
            expected = single[names[envs.entry[i]]].act(env.data.qpos, env.data.qvel,
                                                        env.data.ctrl).action
            # bit-equal: an MLP expert's rows are dot products summed in one order whatever
            # the batch (ORT's CPU GEMM), then cast to float32 as one label always was
            np.testing.assert_array_equal(labels[i, :width], expected.astype(np.float32))
            assert not labels[i, width:].any()  # padding
        envs.step(rng.uniform(-1.0, 1.0, (envs.num_envs, envs.act_dim)))
    envs.close()


def test_teachers_are_checked_against_the_training_robots(experts, tmp_path):
    with pytest.raises(ConfigError, match=r"distill\.teachers\[1\]'.*walker_7_main, not a "
                                          'training robot'):
        Teachers([experts['walker_2_main'], experts['walker_7_main']], ROBOTS)
    with pytest.raises(ConfigError, match="'distill.teachers': no expert for walker_4_main"):
        Teachers([experts['walker_2_main']], ROBOTS)
    with pytest.raises(ConfigError, match=r"teachers\[1\]'.*second expert for walker_2_main"):
        Teachers([experts['walker_2_main']] * 2, ROBOTS)
    (tmp_path / 'broken.onnx').write_bytes(b'not a model')
    with pytest.raises(ConfigError, match=r"distill\.teachers\[0\]'.*broken\.onnx"):
        Teachers([str(tmp_path / 'broken.onnx')], ROBOTS)


def test_distillation_is_a_ppo_phase_with_teachers(smoke_config, experts):
    with pytest.raises(ConfigError, match="'distill.steps'.*ppo run"):
        smoke_config('td3', distill={'teachers': [experts['walker_7_main']], 'steps': 100})
    with pytest.raises(ConfigError, match="'distill.teachers'"):
        smoke_config('ppo', distill={'steps': 100})


def test_ppo_takes_over_at_its_own_learning_rate(tmp_path, smoke_config, experts):
    teachers = [experts[name] for name in ROBOTS]
    config = smoke_config('ppo', robot=None, robots=ROBOTS, num_envs=4, total_steps=256,
                          log_every=128,
                          ppo={'rollout_steps': 32, 'epochs': 1, 'minibatches': 2,
                               'learning_rate': 2e-4, 'desired_kl': None,
                               'value_hidden_sizes': [32, 32]},
                          distill={'teachers': teachers, 'steps': 128, 'epochs': 3,
                                   'learning_rate': 5e-3})
    run = train(config=config, run_dir=str(tmp_path / 'run'), progress=False)
    agent = agent_from_checkpoint(run / 'checkpoints' / 'last.pt')
    assert agent.updates == 1 * 3 * 2 + 1 * 1 * 2  # distilled rollout: 3 epochs; PPO's: 1
    import csv
    with open(run / 'metrics.csv', newline='') as f:
        rates = [float(row['learning_rate']) for row in csv.DictReader(f) if row['learning_rate']]
    assert rates[0] == pytest.approx(5e-3) and rates[-1] == pytest.approx(2e-4)


def test_a_run_resumed_after_its_distillation_needs_no_experts(tmp_path, smoke_config, experts):
    """Teacher files may move once they have been imitated: resuming must not load them."""
    import shutil
    moved = tmp_path / 'experts'
    shutil.copytree(Path(experts['walker_2_main']).parent, moved)
    teachers = [str(moved / f'{name}.onnx') for name in ROBOTS]
    config = smoke_config('ppo', robot=None, robots=ROBOTS, num_envs=4, total_steps=128,
                          ppo={'rollout_steps': 32, 'epochs': 1, 'minibatches': 2,
                               'learning_rate': 2e-4, 'desired_kl': None,
                               'value_hidden_sizes': [32, 32]},
                          distill={'teachers': teachers, 'steps': 128, 'learning_rate': 5e-3})
    run = train(config=config, run_dir=str(tmp_path / 'run'), progress=False)
    from synergy_control.training.checkpoint import load_checkpoint
    # stopped as the distillation ended: the checkpoint already holds PPO's learning rate
    state = load_checkpoint(run / 'checkpoints' / 'last.pt')
    assert state['optimizers']['ppo']['param_groups'][0]['lr'] == pytest.approx(2e-4)
    shutil.rmtree(moved)
    train(resume=str(run), total_steps=256, progress=False)
    assert load_checkpoint(run / 'checkpoints' / 'last.pt')['counters']['env_steps'] == 256


# ---------------------------------------------------------------------- kickstarting
def test_kickstarting_follows_distillation_and_ends(tmp_path, smoke_config, experts):
    """Distilled rollouts, then PPO with the term (its loss logged), then PPO alone."""
    import csv
    config = smoke_config('ppo', robot=None, robots=ROBOTS, num_envs=4, total_steps=384,
                          log_every=128, ppo={**SMALL_PPO, 'epochs': 1},
                          distill={'teachers': [experts[name] for name in ROBOTS],
                                   'steps': 128, 'epochs': 3, 'kickstart_steps': 128,
                                   'kickstart_coef': 1.0})
    run = train(config=config, run_dir=str(tmp_path / 'run'), progress=False)
    assert agent_from_checkpoint(run / 'checkpoints' / 'last.pt').updates == 3 * 2 + 2 * 1 * 2
    with open(run / 'metrics.csv', newline='') as f:
        rows = [row for row in csv.DictReader(f) if row['policy_loss']]
    imitation = [row['imitation_loss'] for row in rows]
    assert [int(row['step']) for row in rows] == [128, 256, 384]
    assert float(imitation[0]) > 0 and float(imitation[1]) > 0 and imitation[2] == ''


def test_the_kickstart_weight_falls_linearly_to_zero(smoke_config, experts):
    distill = smoke_config('ppo', distill={'teachers': [experts['walker_7_main']], 'steps': 100,
                                           'kickstart_steps': 200,
                                           'kickstart_coef': 2.0}).distill
    assert distill.teaching_steps == 300
    weights = [distill.kickstart_weight(step) for step in (0, 99, 100, 200, 299, 300, 1000)]
    assert weights == pytest.approx([0.0, 0.0, 2.0, 1.0, 0.01, 0.0, 0.0])


def test_kickstarting_needs_ppo_teachers_and_both_settings(smoke_config, experts):
    expert = [experts['walker_7_main']]
    with pytest.raises(ConfigError, match="'distill.kickstart_steps'.*PPO's loss"):
        smoke_config('td3', distill={'teachers': expert, 'kickstart_steps': 100,
                                     'kickstart_coef': 1.0})
    with pytest.raises(ConfigError, match="'distill.teachers'.*kickstart_steps"):
        smoke_config('ppo', distill={'kickstart_steps': 100, 'kickstart_coef': 1.0})
    for steps, coef in ((100, 0.0), (0, 1.0)):
        with pytest.raises(ConfigError, match="'distill.kickstart_coef'"):
            smoke_config('ppo', distill={'teachers': expert, 'kickstart_steps': steps,
                                         'kickstart_coef': coef})
