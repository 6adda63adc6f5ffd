"""CrossQ (Bhatt et al., ICLR 2024): SAC without target networks, with batch-renormalised critics.

What differs from :class:`~synergy_control.training.sac.SAC`, and nothing else:

- the critics are the builder's batch-renormalised ones (``make_renorm_critic``), there is no
  target copy and no Polyak update;
- (s, a) and (s', a'~π) go through the critics as **one** batch in train mode, so the
  normalisation statistics are those of the mixture both halves come from, and the TD target
  is the detached second half (the paper's "cross" batch);
- the actor (and α) are updated every ``crossq.policy_delay`` critic updates, with the
  critics in eval mode (running statistics);
- Adam's β1 is ``crossq.adam_beta1`` (0.5) for the actor and the critics.

The exported policy is the builder's Gaussian actor, as for SAC: deployment is unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from synergy_control.policies.registry import PolicyContext
from synergy_control.training.buffers import Batch
from synergy_control.training.config import Config
from synergy_control.training.sac import SAC, sac_target


class CrossQ(SAC):
    """SAC's actor and temperature over batch-renormalised critics, no target networks."""

    def __init__(self, context: PolicyContext, config: Config,
                 device: str | torch.device = 'cpu'):
        self.crossq = config.crossq
        self.adam_betas = (config.crossq.adam_beta1, 0.999)
        super().__init__(context, config, device)
        self._actor_metrics: dict[str, torch.Tensor] = {}

    def make_critics(self) -> tuple[nn.Module, nn.Module | None]:
        """Return the batch-renormalised twin critics and no target copy."""
        hp = self.crossq
        return self.builder.make_renorm_critic(hp.critic_hidden_sizes, hp.bn_warmup_steps), None

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        obs, next_obs = self.normalize(batch.obs), self.normalize(batch.next_obs)
        robot, size = batch.robot, obs.shape[0]
        alpha = self.log_alpha.detach().exp()
        with torch.no_grad():
            next_action, next_log_prob = self.actor.sample(next_obs, robot)

        self.critic.train()
        both = None if robot is None else torch.cat([robot, robot])
        q_both = self.critic(torch.cat([obs, next_obs]), torch.cat([batch.action, next_action]),
                             both)  # [n, 2B]: one batch, one set of statistics
        q, next_q = q_both[:, :size], q_both[:, size:].detach()
        target = sac_target(batch.reward, batch.terminated, next_q, next_log_prob, alpha,
                            self.gamma)
        critic_loss = F.mse_loss(q, target.expand_as(q), reduction='none').mean(1).sum()
        self.optimizers['critic'].zero_grad(set_to_none=True)
        critic_loss.backward()
        self.optimizers['critic'].step()
        self.critic.eval()

        self.updates += 1
        if self.updates % self.crossq.policy_delay == 0 or not self._actor_metrics:
            actor_loss, log_prob = self.actor_step(obs, robot, alpha)
            self._actor_metrics = {'actor_loss': actor_loss.detach(),
                                   'entropy': -log_prob.detach().mean(),
                                   'alpha_loss': self.temperature_step(log_prob, robot)}
        return {'critic_loss': critic_loss.detach(), 'q_mean': q.detach().mean(),
                'alpha': alpha, **self._actor_metrics}
