"""EAR's policy builder: embeddings on the sphere, the noise switch, task-aware critics, export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synergy_control.export.trained import export_checkpoint
from synergy_control.methods.ear.policy import EARPolicy, TaskEmbeddingActor
from synergy_control.policies.registry import PolicyContext
from synergy_control.runtime import PolicyRuntime
from synergy_control.training import ConfigError, config_from_dict

TASKS = ['vel:1', 'vel:3', 'vel:5']  # those of conftest.ear_config
SMALL = {'state_hidden': [16], 'state_dim': 4, 'task_hidden': [8], 'task_dim': 3,
         'decoder_hidden': [16, 16], 'critic_hidden': [16, 16]}


def builder(**settings) -> EARPolicy:
    context = PolicyContext.build([f'half_cheetah@{t}' for t in TASKS])
    return EARPolicy(context, EARPolicy.Settings(**{**SMALL, **settings}))


def test_task_embeddings_are_unit_vectors_one_per_task():
    ear = builder()
    actor = ear.make_actor('gaussian')
    embeddings = actor.embeddings()
    assert embeddings.shape == (3, 3)
    torch.testing.assert_close(embeddings.norm(dim=-1), torch.ones(3))
    assert list(ear.task_embeddings()) == TASKS


@pytest.mark.parametrize('reaches, differs', [(True, True), (False, False)])
def test_embedding_noise_reaches_the_decoder_only_with_the_paper_switch(reaches, differs):
    actor: TaskEmbeddingActor = builder(embedding_noise=0.1,
                                        noise_reaches_decoder=reaches).make_actor('gaussian')
    obs, robot = torch.randn(64, 17), torch.arange(64) % 3
    noisy = actor.task_embedding(obs, robot, noisy=True)
    clean = actor.task_embedding(obs, robot, noisy=False)
    torch.testing.assert_close(noisy.norm(dim=-1), torch.ones(64))  # re-normalised
    assert (not torch.allclose(noisy, clean)) is differs
    torch.testing.assert_close(actor.deterministic(obs, robot),
                               torch.tanh(actor.decode(obs, clean)[0]))


def test_critics_see_the_task():
    critic = builder().make_critic()
    obs, action = torch.randn(1, 17).expand(3, 17), torch.zeros(3, 6)
    q = critic(obs, action, torch.arange(3))
    assert q.shape == (2, 3) and len(set(q[0].tolist())) == 3


def test_ear_needs_one_robot_on_tasks_and_a_gaussian_actor():
    context = PolicyContext.build(['walker_2_main', 'walker_4_main'])
    with pytest.raises(ValueError, match="one robot on a set of tasks"):
        EARPolicy(context, EARPolicy.Settings())
    with pytest.raises(ConfigError, match="'algorithm'.*Gaussian actor"):
        builder().make_actor('deterministic')
    with pytest.raises(ConfigError, match="'policy.task_dim'"):
        config_from_dict({'robot': 'half_cheetah', 'tasks': TASKS, 'algorithm': 'sac',
                          'policy': {'name': 'ear', 'task_dim': 1}})


def test_trained_ear_exports_one_graph_commanded_by_any_task_embedding(tmp_path, run_to_end,
                                                                       small_ear_config):
    trainer, _ = run_to_end(small_ear_config(), tmp_path)
    assert trainer.agent.updates == (150 - 60 + 3) // 2  # 0.5 per transition from step 60
    card = export_checkpoint(tmp_path, tmp_path / 'ear.onnx', robot='half_cheetah@vel:3')
    assert card.robot == 'half_cheetah' and card.tasks['default'] == 'vel:3'
    learned = trainer.agent.actor.embeddings().detach().numpy()
    for i, task in enumerate(TASKS):
        np.testing.assert_allclose(card.tasks['embeddings'][task], learned[i], atol=1e-6)

    runtime = PolicyRuntime(tmp_path / 'ear.onnx')
    assert runtime.task_names == sorted(TASKS)
    qpos, qvel = np.zeros(9), np.zeros(9)
    per_task = {}
    for i, task in enumerate(TASKS):
        runtime.set_task(task)
        per_task[task] = runtime.act(qpos, qvel).action
        obs = runtime.observe(qpos, qvel)
        expected = trainer.agent.act(obs, deterministic=True, robot=f'half_cheetah@{task}')
        np.testing.assert_allclose(per_task[task], expected, atol=1e-5)
    assert not np.allclose(per_task['vel:1'], per_task['vel:5'])


def test_gradient_adaptation_learns_only_the_new_embedding(tmp_path, run_to_end,
                                                           small_ear_config):
    source, _ = run_to_end(small_ear_config(), tmp_path / 'source')
    trained = {k: v.clone() for k, v in source.agent.actor.state_dict().items()}
    adapted, _ = run_to_end(small_ear_config(
        tasks=['vel:2'], policy={**small_ear_config()['policy'],
                                 'adapt_from': str(tmp_path / 'source')}), tmp_path / 'adapt')
    actor = adapted.agent.actor
    for key, value in actor.state_dict().items():
        if key.startswith('task_encoder.'):
            assert value.shape == (3, 1)  # one free vector for the one new task
        else:
            torch.testing.assert_close(value, trained[key])  # loaded and frozen
    assert [n for n, p in actor.named_parameters() if p.requires_grad] == ['task_encoder.weight']
    assert adapted.agent.updates > 0
    with pytest.raises(ValueError, match="policy.adapt_from: .* is not an EAR actor"):
        run_to_end(small_ear_config(tasks=['vel:2'], policy={
            **small_ear_config()['policy'], 'state_dim': 5,
            'adapt_from': str(tmp_path / 'source')}), tmp_path / 'bad')


def ear_ppo_config(small_ear_config, **policy) -> dict:
    """The small EAR run under PPO: one vectorised cheetah per task, two rollouts."""
    data = {key: value for key, value in small_ear_config().items()
            if key not in ('start_steps', 'batch_size', 'buffer_size', 'updates_per_step')}
    data.update(algorithm='ppo', num_envs=3, total_steps=96, eval_every=96,
                checkpoint_every=96, log_every=48,
                policy={**data['policy'], **policy},
                ppo={'rollout_steps': 16, 'epochs': 1, 'minibatches': 2,
                     'value_hidden_sizes': [16]})
    return data


def test_ppo_trains_ear_on_its_tasks_and_exports_the_task_commanded_graph(
        tmp_path, small_ear_config):
    from synergy_control.training import train
    from synergy_control.training.checkpoint import agent_from_checkpoint
    config = config_from_dict(ear_ppo_config(small_ear_config, embedding_noise=0.0))
    run = train(config=config, run_dir=str(tmp_path / 'run'), progress=False)
    agent = agent_from_checkpoint(run / 'checkpoints' / 'last.pt')
    assert agent.log_std.shape == (6,)  # the cheetah's actions: EAR samples actions
    export_checkpoint(run, tmp_path / 'ear.onnx', robot='half_cheetah@vel:3')
    runtime = PolicyRuntime(tmp_path / 'ear.onnx')
    qpos, qvel = np.full(9, 0.1), np.full(9, -0.2)
    for task in TASKS:
        runtime.set_task(task)
        expected = agent.act(runtime.observe(qpos, qvel), deterministic=True,
                             robot=f'half_cheetah@{task}')
        np.testing.assert_allclose(runtime.act(qpos, qvel).action, expected, atol=1e-5)


def test_ppo_refuses_embedding_noise_it_has_no_log_probability_for(small_ear_config):
    from synergy_control.training.checkpoint import make_agent
    with pytest.raises(ConfigError, match="'policy.embedding_noise'"):
        make_agent(config_from_dict(ear_ppo_config(small_ear_config)))
    make_agent(config_from_dict(ear_ppo_config(small_ear_config, noise_reaches_decoder=False)))
