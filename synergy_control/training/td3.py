"""TD3 (Fujimoto et al. 2018), CleanRL-style.

Twin critics, target policy smoothing, delayed policy and target updates.
"""

from __future__ import annotations

import torch

from synergy_control.policies.registry import PolicyContext
from synergy_control.training.agent import (OffPolicyAgent, adam, frozen_copy, no_param_grad,
                                            polyak_update)
from synergy_control.training.buffers import Batch
from synergy_control.training.config import Config


def target_policy_smoothing(next_action: torch.Tensor, noise: torch.Tensor,
                            noise_clip: float) -> torch.Tensor:
    """Smooth the target action: a' = clip(μ'(s') + clip(ε, −c, c), −1, 1).

    The noise ε ~ N(0, σ) is passed in, so tests can hand-make it.
    """
    return (next_action + noise.clamp(-noise_clip, noise_clip)).clamp(-1.0, 1.0)


def td3_target(reward: torch.Tensor, terminated: torch.Tensor, next_q: torch.Tensor,
               gamma: float) -> torch.Tensor:
    """TD target y = r + γ(1 − terminated)·min_i Q'_i(s', a'); ``next_q`` is [n_critics, B].

    Truncated transitions have terminated = 0, so they bootstrap.
    """
    return reward + gamma * (1.0 - terminated) * next_q.min(0).values


class TD3(OffPolicyAgent):
    """Twin Delayed DDPG on a deterministic tanh actor."""

    metric_names = ('critic_loss', 'actor_loss', 'q_mean')

    def __init__(self, context: PolicyContext, config: Config,
                 device: str | torch.device = 'cpu'):
        super().__init__(context, config)
        self.gamma, self.tau = config.gamma, config.tau
        self.hp = config.td3
        self.actor = self.builder.make_actor('deterministic')
        self.critic = self.builder.make_critic()
        self.actor_target = frozen_copy(self.actor)
        self.critic_target = frozen_copy(self.critic)
        self.to(device)
        self.optimizers = {
            'actor': adam(self.actor.parameters(), lr=config.actor_lr),
            'critic': adam(self.critic.parameters(), lr=config.critic_lr)}
        self.last_actor_loss: torch.Tensor | None = None  # none before the first actor update

    def explore(self, obs: torch.Tensor, robot: torch.Tensor | None = None) -> torch.Tensor:
        """μ(s) plus Gaussian exploration noise, clipped to the action box."""
        action = self.actor(obs, robot)
        return (action + self.hp.exploration_noise * torch.randn_like(action)).clamp(-1.0, 1.0)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        obs, next_obs = self.normalize(batch.obs), self.normalize(batch.next_obs)
        robot = batch.robot

        with torch.no_grad():
            noise = self.hp.policy_noise * torch.randn_like(batch.action)
            if batch.act_mask is not None:  # padded action columns stay 0
                noise = noise * batch.act_mask
            next_action = target_policy_smoothing(self.actor_target(next_obs, robot), noise,
                                                  self.hp.noise_clip)
            target = td3_target(batch.reward, batch.terminated,
                                self.critic_target(next_obs, next_action, robot), self.gamma)

        critic_loss, q = self.critic_step(obs, batch, target)
        self.updates += 1

        if self.updates % self.hp.policy_delay == 0:
            with no_param_grad(self.critic):
                actor_loss = -self.critic(obs, self.actor(obs, robot), robot,
                                          first_only=True)[0].mean()
            self.optimizers['actor'].zero_grad(set_to_none=True)
            actor_loss.backward()
            self.optimizers['actor'].step()
            polyak_update(self.actor_target, self.actor, self.tau)
            polyak_update(self.critic_target, self.critic, self.tau)
            self.last_actor_loss = actor_loss.detach()

        metrics = {'critic_loss': critic_loss.detach(), 'q_mean': q.detach().mean()}
        if self.last_actor_loss is not None:
            metrics['actor_loss'] = self.last_actor_loss
        return metrics
