"""Can a SOLAR student fit the Walker++ experts? Offline behaviour cloning on their own states.

Issue 20's distillation left walker_4/5/7 at their labels' variance. This separates the
student's architecture from DAgger's state distribution: the experts of the training walkers
(``distill.teachers`` of the config) drive 32 environments with N(0, 0.3²) action noise; the
student fits their actions on those states (90/10 split, Adam 1e-3, batch 1024), and the
held-out masked MSE per walker is printed beside the labels' variance. Each size is
``d_model,feedforward,intra,inter,loadings``.

    python benchmarks/distill_capacity.py --steps 2000 --epochs 40 \
        --student 32,64,1,1,static --student 32,64,1,1,state --student 64,128,1,2,state
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import torch

from synergy_control.policies.registry import PolicyContext
from synergy_control.training.checkpoint import make_agent
from synergy_control.training.config import Config, load_config
from synergy_control.training.distill import Teachers
from synergy_control.training.ppo import imitation_loss
from synergy_control.training.vec_env import VectorEnv

NOISE = 0.3


def collect(config: Config, context: PolicyContext, steps: int, envs_count: int
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """States, expert actions and robot indices of the experts' noisy rollouts."""
    train, _ = config.robot_split()
    envs = VectorEnv(train, envs_count, config.obs_mode)
    teachers = Teachers(config.distill.teachers, train)
    rng = np.random.default_rng(0)
    obs = envs.reset(seed=0)
    states, labels, robots = [], [], []
    for _ in range(steps):
        label = teachers.actions(envs)
        states.append(obs.copy())
        labels.append(label)
        robots.append(np.asarray(envs.entry))
        noisy = np.clip(label + NOISE * rng.standard_normal(label.shape), -1, 1)
        obs = envs.step((noisy * context.act_mask[envs.entry]).astype(np.float32)).obs
    envs.close()
    return (torch.as_tensor(np.concatenate(states)), torch.as_tensor(np.concatenate(labels)),
            torch.as_tensor(np.concatenate(robots)))


def fit(config: Config, context: PolicyContext, data: tuple, student: str, epochs: int
        ) -> dict:
    """Fit one student; return its held-out error and the labels' variance per walker."""
    d_model, feedforward, intra, inter, loadings = student.split(',')
    settings = dataclasses.replace(config.policy.settings, d_model=int(d_model),
                                   feedforward=int(feedforward), intra_layers=int(intra),
                                   inter_layers=int(inter), loadings=loadings)
    agent = make_agent(dataclasses.replace(
        config, policy=dataclasses.replace(config.policy, settings=settings)), 'cpu', context)
    obs, label, robot = data
    order = torch.randperm(len(obs), generator=torch.Generator().manual_seed(0))
    test, train = order[:len(obs) // 10], order[len(obs) // 10:]
    agent.observe(obs[train].numpy())
    normalised, mask = agent.normalize(obs), agent.act_mask[robot]
    optimizer = torch.optim.Adam(agent.actor.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(epochs):
        shuffled = train[torch.randperm(len(train))]
        for batch in shuffled.split(1024):
            loss = imitation_loss(agent.mean(normalised[batch], robot[batch]), label[batch],
                                  mask[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        predicted = agent.mean(normalised[test], robot[test])
    result = {'student': student, 'seconds': round(time.perf_counter() - start, 1)}
    for index, name in enumerate(context.names[:len(config.distill.teachers)]):
        own = robot[test] == index
        columns, truth = mask[test][own], label[test][own]
        error = ((predicted[own] - truth) ** 2 * columns).sum() / columns.sum()
        variance = ((truth - truth.mean(0)) ** 2 * columns).sum() / columns.sum()
        result[name] = {'mse': round(error.item(), 3), 'label_variance': round(variance.item(), 3)}
    return result


def main() -> None:
    """Collect once, fit each student, print one JSON line per student."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default='config/train/walker_solar_distill_state.yaml')
    parser.add_argument('--steps', type=int, default=2000)
    parser.add_argument('--envs', type=int, default=32)
    parser.add_argument('--epochs', type=int, default=40)
    parser.add_argument('--student', action='append', default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(args.config)
    train, zero_shot = config.robot_split()
    context = PolicyContext.build(train, zero_shot, config.obs_mode)
    data = collect(config, context, args.steps, args.envs)
    for student in args.student or ['32,64,1,1,static', '32,64,1,1,state']:
        print(json.dumps(fit(config, context, data, student, args.epochs)), flush=True)


if __name__ == '__main__':
    main()
