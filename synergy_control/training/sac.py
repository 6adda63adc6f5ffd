"""SAC (Haarnoja et al. 2018, v2), CleanRL-style.

Twin critics, reparameterised tanh-Gaussian policy, automatic entropy temperature.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from synergy_control.policies.registry import PolicyContext
from synergy_control.training.agent import (OffPolicyAgent, adam, frozen_copy, no_param_grad,
                                            polyak_update)
from synergy_control.training.buffers import Batch
from synergy_control.training.config import Config


def sac_target(reward: torch.Tensor, terminated: torch.Tensor, next_q: torch.Tensor,
               next_log_prob: torch.Tensor, alpha: torch.Tensor | float,
               gamma: float) -> torch.Tensor:
    """Soft TD target y = r + γ(1 − terminated)·(min_i Q'_i(s', a') − α log π(a'|s')), a' ~ π(s').

    ``next_q`` is [n_critics, B]; truncated transitions have terminated = 0 and bootstrap.
    """
    return reward + gamma * (1.0 - terminated) * (next_q.min(0).values - alpha * next_log_prob)


def sac_actor_loss(q: torch.Tensor, log_prob: torch.Tensor,
                   alpha: torch.Tensor | float) -> torch.Tensor:
    """Policy loss E[α log π(a|s) − min_i Q_i(s, a)], a reparameterised."""
    return (alpha * log_prob - q.min(0).values).mean()


def sac_alpha_loss(log_alpha: torch.Tensor, log_prob: torch.Tensor,
                   target_entropy: float | torch.Tensor) -> torch.Tensor:
    """Temperature loss −log α · E[log π + H̄]: α grows while entropy is below H̄."""
    return -(log_alpha * (log_prob.detach() + target_entropy)).mean()


class SAC(OffPolicyAgent):
    """Soft Actor-Critic with one actor and target-critic update per step."""

    metric_names = ('critic_loss', 'actor_loss', 'q_mean', 'alpha', 'alpha_loss', 'entropy')

    def __init__(self, context: PolicyContext, config: Config,
                 device: str | torch.device = 'cpu'):
        super().__init__(context, config)
        self.gamma, self.tau = config.gamma, config.tau
        hp = config.sac
        self.autotune = hp.autotune
        # −|A| (the sampled space's size, builder.sampled_dims) of each sample's own robot
        # when robots differ in size (None: one value)
        sizes = self.builder.sampled_dims()
        self.target_entropy = float(-max(sizes) if hp.target_entropy is None
                                    else hp.target_entropy)
        per_robot = hp.target_entropy is None and len(set(sizes)) > 1
        self.register_buffer('robot_target_entropy', -torch.tensor(sizes, dtype=torch.float32)
                             if per_robot else None, persistent=False)
        self.actor = self.builder.make_actor('gaussian')
        self.critic = self.builder.make_critic()
        self.critic_target = frozen_copy(self.critic)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(hp.init_alpha)),
                                      requires_grad=hp.autotune)
        self.to(device)
        self.optimizers = {
            'actor': adam(self.actor.parameters(), lr=config.actor_lr),
            'critic': adam(self.critic.parameters(), lr=config.critic_lr)}
        if hp.autotune:
            self.optimizers['alpha'] = adam([self.log_alpha], lr=config.actor_lr)

    def explore(self, obs: torch.Tensor, robot: torch.Tensor | None = None) -> torch.Tensor:
        """Sample the tanh-Gaussian policy."""
        return self.actor.sample(obs, robot)[0]

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        obs, next_obs = self.normalize(batch.obs), self.normalize(batch.next_obs)
        robot = batch.robot
        alpha = self.log_alpha.detach().exp()

        with torch.no_grad():
            next_action, next_log_prob = self.actor.sample(next_obs, robot)
            target = sac_target(batch.reward, batch.terminated,
                                self.critic_target(next_obs, next_action, robot), next_log_prob,
                                alpha, self.gamma)

        critic_loss, q = self.critic_step(obs, batch, target)

        action, log_prob = self.actor.sample(obs, robot)
        with no_param_grad(self.critic):
            actor_loss = sac_actor_loss(self.critic(obs, action, robot), log_prob, alpha)
        self.optimizers['actor'].zero_grad(set_to_none=True)
        actor_loss.backward()
        self.optimizers['actor'].step()

        metrics = {'critic_loss': critic_loss.detach(), 'actor_loss': actor_loss.detach(),
                   'q_mean': q.detach().mean(), 'alpha': alpha,
                   'entropy': -log_prob.detach().mean()}
        if self.autotune:
            target_entropy = (self.target_entropy if self.robot_target_entropy is None
                              or robot is None else self.robot_target_entropy[robot])
            alpha_loss = sac_alpha_loss(self.log_alpha, log_prob, target_entropy)
            self.optimizers['alpha'].zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.optimizers['alpha'].step()
            metrics['alpha_loss'] = alpha_loss.detach()
        else:
            metrics['alpha_loss'] = torch.zeros((), device=alpha.device)

        polyak_update(self.critic_target, self.critic, self.tau)
        self.updates += 1
        return metrics
