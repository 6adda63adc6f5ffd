"""PPO (Schulman et al. 2017) with rsl_rl's habits, for every policy builder.

- The mean of the Gaussian policy is the builder's PPO actor (``make_ppo_actor``: the
  deterministic actor TD3 trains, or SAR's and EAR's Gaussian actors at tanh of their mean),
  its log-std a free parameter per sampled column (not a function of the state); the
  exported graph is that mean, as for TD3. SAR samples synergy values, not actions: the
  rollout keeps the sample and its log-probability, the environment gets ``to_action`` of it.
- The value is an MLP over the padded observation (``ppo.value_hidden_sizes``), fitted in
  units of the running return statistics (``ppo.normalize_value``), as rl_games does.
- GAE(λ); a time-limit truncation bootstraps by adding γ·V(final observation) to its reward
  (rsl_rl's ``value_bootstrap``), a termination does not.
- Clipped surrogate, value loss, entropy bonus; epochs of shuffled minibatches; gradient-norm
  clipping; the learning rate adapted to the measured KL (rsl_rl's schedule).
- The observation normaliser (``normalize_obs``) is the run's usual one, exported inside the
  ONNX graph, so the card and the runtime need no extra step.

The math is in pure functions (:func:`gae`, :func:`bootstrap_truncated`,
:func:`ppo_losses`, :func:`adapted_learning_rate`), tested against hand-computed values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from synergy_control.policies.registry import PolicyContext, SampledSpaceActor
from synergy_control.training.agent import OffPolicyAgent, adam
from synergy_control.training.config import Config
from synergy_control.training.distill import Teachers
from synergy_control.policies.networks import mlp
from synergy_control.training.normalizer import RunningNormalizer
from synergy_control.training.vec_env import FinishedEpisode, VectorEnv

LOG_2PI_E = math.log(2 * math.pi * math.e)
LR_BOUNDS = (1e-5, 1e-2)  # rsl_rl's range for the adaptive learning rate


def bootstrap_truncated(reward: torch.Tensor, truncated: torch.Tensor,
                        final_value: torch.Tensor, gamma: float) -> torch.Tensor:
    """Reward with γ·V(final observation) added where the episode hit its time limit.

    The episode is then treated as ended for GAE, so the value of the time-limited state is
    still backed up instead of being cut to 0 as a termination is.
    """
    return reward + gamma * final_value * truncated


def gae(reward: torch.Tensor, value: torch.Tensor, done: torch.Tensor,
        last_value: torch.Tensor, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns over a rollout [T, N].

    δ_t = r_t + γ (1 − done_t) V_{t+1} − V_t,  A_t = δ_t + γ λ (1 − done_t) A_{t+1};
    ``done_t`` means the episode ended at step t (terminated or truncated, the truncated
    reward already bootstrapped), ``last_value`` is V of the observation after the rollout.
    """
    advantage = torch.zeros_like(reward)
    next_advantage = torch.zeros_like(last_value)
    next_value = last_value
    for t in range(reward.shape[0] - 1, -1, -1):
        keep = 1.0 - done[t]
        delta = reward[t] + gamma * keep * next_value - value[t]
        next_advantage = delta + gamma * lam * keep * next_advantage
        advantage[t] = next_advantage
        next_value = value[t]
    return advantage, advantage + value


def gaussian_log_prob(action: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor,
                      mask: torch.Tensor | None = None) -> torch.Tensor:
    """Log-density of a diagonal Gaussian, summed over the (unmasked) action columns."""
    per_dim = -0.5 * ((action - mean) / log_std.exp()).square() - log_std \
        - 0.5 * math.log(2 * math.pi)
    return (per_dim if mask is None else per_dim * mask).sum(-1)


def gaussian_kl(old_mean: torch.Tensor, old_log_std: torch.Tensor, mean: torch.Tensor,
                log_std: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """KL(old ‖ new) of diagonal Gaussians per sample, summed over the action columns."""
    per_dim = (log_std - old_log_std
               + ((2 * old_log_std).exp() + (old_mean - mean).square())
               / (2 * (2 * log_std).exp()) - 0.5)
    return (per_dim if mask is None else per_dim * mask).sum(-1)


def ppo_losses(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantage: torch.Tensor,
               value: torch.Tensor, value_target: torch.Tensor,
               clip: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clipped surrogate loss, value loss and the fraction of clipped ratios.

    L = −E[min(ρ A, clip(ρ, 1 − ε, 1 + ε) A)], ρ = π(a|s) / π_old(a|s); value loss
    E[(V − V_target)²].
    """
    ratio = (log_prob - old_log_prob).exp()
    surrogate = torch.minimum(ratio * advantage, ratio.clamp(1 - clip, 1 + clip) * advantage)
    clipped = ((ratio - 1).abs() > clip).float().mean()
    return -surrogate.mean(), squared_error(value, value_target), clipped


def squared_error(value: torch.Tensor, value_target: torch.Tensor) -> torch.Tensor:
    """Return the value loss E[(V − V_target)²]."""
    return (value - value_target).square().mean()


def imitation_loss(action: torch.Tensor, label: torch.Tensor,
                   mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error of actions against an expert's, over each robot's own columns."""
    error = (action - label).square()
    if mask is None:
        return error.mean()
    return (error * mask).sum() / mask.sum()


def adapted_learning_rate(lr: float, kl: float, desired_kl: float) -> float:
    """rsl_rl's schedule: ÷1.5 when KL > 2·target, ×1.5 when KL < target / 2, within bounds."""
    if kl > 2.0 * desired_kl:
        return max(LR_BOUNDS[0], lr / 1.5)
    if 0.0 < kl < desired_kl / 2.0:
        return min(LR_BOUNDS[1], lr * 1.5)
    return lr


@dataclass
class Rollout:
    """One iteration's transitions, flattened over [T·N]; what :meth:`PPO.update` reads."""

    obs: torch.Tensor          # normalised observations
    robot: torch.Tensor | None
    action: torch.Tensor       # the samples (actions, or SAR's synergy values)
    log_prob: torch.Tensor
    mean: torch.Tensor
    log_std: torch.Tensor      # [S]: the policy's log-std when it collected the rollout
    advantage: torch.Tensor
    value_target: torch.Tensor  # in the value network's units (normalised if enabled)
    teacher_action: torch.Tensor | None = None  # distillation's labels [T·N, A]


class PPO(OffPolicyAgent):
    """Proximal policy optimisation of a builder's actor (the mean) and a value MLP.

    It shares :class:`OffPolicyAgent`'s acting, normalisation and export (the export module
    is the builder's own, around the deterministic actor), not its replay-based update.
    """

    metric_names = ('policy_loss', 'value_loss', 'entropy', 'approx_kl', 'clip_fraction',
                    'learning_rate', 'action_std')

    def __init__(self, context: PolicyContext, config: Config,
                 device: str | torch.device = 'cpu'):
        super().__init__(context, config)
        self.hp, self.gamma = config.ppo, config.gamma
        self.distill = config.distill
        if config.distill.kickstart_steps:  # its column only in the runs that have the term
            self.metric_names = (*self.metric_names, 'imitation_loss')
        self.actor = self.builder.make_ppo_actor()
        self.samples_own_space = isinstance(self.actor, SampledSpaceActor)
        self.sampled_dim = max(self.builder.sampled_dims())
        self.value = mlp(self.obs_dim, self.hp.value_hidden_sizes, 1, self.hp.value_activation)
        self.log_std = nn.Parameter(torch.full((self.sampled_dim,),
                                               float(self.hp.init_log_std)))
        self.value_norm = RunningNormalizer(1, clip=math.inf) if self.hp.normalize_value \
            else None
        mask = context.act_mask
        self.register_buffer('act_mask', None if mask is None else torch.as_tensor(mask),
                             persistent=False)
        self.to(device)
        self.optimizers = {'ppo': adam([*self.actor.parameters(), *self.value.parameters(),
                                        self.log_std], lr=self.hp.learning_rate)}

    def _act_mask(self, robot: torch.Tensor | None) -> torch.Tensor | None:
        """Each sample's real action columns (None: no robot is padded)."""
        return None if self.act_mask is None or robot is None else self.act_mask[robot]

    def _mask(self, robot: torch.Tensor | None) -> torch.Tensor | None:
        """Each sample's real sampled columns (None where nothing is padded).

        Padded robots sample padded actions; a sampled space of its own (SAR's, one robot)
        has no padding.
        """
        return self._act_mask(robot) if self.sampled_dim == self.act_dim else None

    def explore(self, obs: torch.Tensor, robot: torch.Tensor | None = None) -> torch.Tensor:
        """Sample the Gaussian around the actor's mean: the action (padded columns stay 0)."""
        return self.to_action(self.sample(obs, robot)[0])

    def mean(self, obs: torch.Tensor, robot: torch.Tensor | None) -> torch.Tensor:
        """Return the Gaussian's mean in the sampled space, for normalised observations."""
        if self.samples_own_space:
            return self.actor.sampled_mean(obs, robot)
        return self.actor.deterministic(obs, robot)

    def to_action(self, sampled: torch.Tensor) -> torch.Tensor:
        """Return the action the environment gets for a sample (by default the sample)."""
        if self.samples_own_space:
            return self.actor.to_action(sampled)
        return sampled

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, robot: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw a sample; return it, its log-probability and the mean (normalised obs)."""
        mean = self.mean(obs, robot)
        noise = torch.randn_like(mean) * self.log_std.exp()
        mask = self._mask(robot)
        action = mean + (noise if mask is None else noise * mask)
        return action, gaussian_log_prob(action, mean, self.log_std, mask), mean

    @torch.no_grad()
    def state_value(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s) in return units, for normalised observations [B, obs] → [B]."""
        value = self.value(obs).squeeze(-1)
        if self.value_norm is not None:
            value = value * self.value_norm.std[0].to(value) + self.value_norm.mean[0].to(value)
        return value

    def value_target(self, returns: torch.Tensor) -> torch.Tensor:
        """Express returns in the value network's units, fitting the running statistics first."""
        if self.value_norm is None:
            return returns
        self.value_norm.update(returns.reshape(-1, 1))
        return ((returns - self.value_norm.mean[0].to(returns))
                / self.value_norm.std[0].to(returns))

    def set_learning_rate(self, lr: float) -> None:
        """Set the learning rate of every parameter group."""
        for group in self.optimizers['ppo'].param_groups:
            group['lr'] = lr

    def update(self, rollout: Rollout, kickstart: float | None = None
               ) -> dict[str, torch.Tensor]:
        """Epochs of minibatch steps on one rollout; the learning rate follows the KL.

        A rollout with expert labels is distilled (imitation only), or with ``kickstart``
        (a weight) PPO's loss gains that weight × the imitation loss.
        """
        hp, optimizer = self.hp, self.optimizers['ppo']
        labelled = rollout.teacher_action is not None
        if kickstart is not None and not labelled:
            raise ValueError('kickstarting needs a rollout labelled by the experts')
        distilling = labelled and kickstart is None
        if distilling:
            self.set_learning_rate(self.distill.learning_rate)
        size = rollout.obs.shape[0]
        chunk = math.ceil(size / hp.minibatches)
        totals: dict[str, float] = dict.fromkeys(self.metric_names, 0.0)
        steps = 0
        for _ in range(self.distill.epochs if distilling else hp.epochs):
            order = torch.randperm(size, device=rollout.obs.device)
            for start in range(0, size, chunk):
                idx = order[start:start + chunk]
                robot = None if rollout.robot is None else rollout.robot[idx]
                mask = self._mask(robot)
                mean = self.mean(rollout.obs[idx], robot)
                value = self.value(rollout.obs[idx]).squeeze(-1)
                if labelled:
                    imitation = imitation_loss(self.to_action(mean), rollout.teacher_action[idx],
                                               self._act_mask(robot))
                    if 'imitation_loss' in totals:
                        totals['imitation_loss'] += float(imitation.detach())
                if distilling:  # fit the experts; no surrogate (nothing clipped)
                    policy_loss = self.distill.bc_coef * imitation
                    value_loss = squared_error(value, rollout.value_target[idx])
                    clipped = torch.zeros(())
                else:
                    log_prob = gaussian_log_prob(rollout.action[idx], mean, self.log_std, mask)
                    advantage = rollout.advantage[idx]
                    advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
                    policy_loss, value_loss, clipped = ppo_losses(
                        log_prob, rollout.log_prob[idx], advantage, value,
                        rollout.value_target[idx], hp.clip)
                    if labelled:
                        policy_loss = policy_loss + kickstart * imitation
                width = self.sampled_dim if mask is None else mask.sum(-1)
                entropy = (self.log_std.sum() + 0.5 * LOG_2PI_E * width if mask is None
                           else (self.log_std * mask).sum(-1) + 0.5 * LOG_2PI_E * width).mean()
                loss = policy_loss + hp.value_coef * value_loss - hp.entropy_coef * entropy
                with torch.no_grad():
                    kl = gaussian_kl(rollout.mean[idx], rollout.log_std, mean, self.log_std,
                                     mask).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_([p for group in optimizer.param_groups
                                          for p in group['params']], hp.max_grad_norm)
                optimizer.step()
                if hp.desired_kl is not None and not distilling:
                    self.set_learning_rate(adapted_learning_rate(
                        optimizer.param_groups[0]['lr'], float(kl), hp.desired_kl))
                for name, value in (('policy_loss', policy_loss), ('value_loss', value_loss),
                                    ('entropy', entropy), ('approx_kl', kl),
                                    ('clip_fraction', clipped)):
                    totals[name] += float(value.detach())
                steps += 1
                self.updates += 1
        metrics = {name: torch.tensor(total / steps) for name, total in totals.items()
                   if labelled or name != 'imitation_loss'}
        metrics['learning_rate'] = torch.tensor(optimizer.param_groups[0]['lr'])
        metrics['action_std'] = self.log_std.detach().exp().mean()
        return metrics


@dataclass
class Collected:
    """A rollout, where the environments stand after it, and the episodes it finished."""

    rollout: Rollout
    obs: torch.Tensor  # raw observations [N, obs] after the last step
    episodes: list[tuple[int, FinishedEpisode]]  # (rollout step it ended at, episode)


def collect(agent: PPO, envs: VectorEnv, obs: torch.Tensor, robot: torch.Tensor | None,
            steps: int, teachers: Teachers | None = None) -> Collected:
    """Step every environment ``steps`` times with the policy; build GAE targets.

    ``obs`` is the raw observation batch the environments stand at. Rewards are scaled by
    ``ppo.reward_scale`` here (learning only); each observation feeds the normaliser before it
    is normalised, as rsl_rl does. With ``teachers`` (distillation) each state is also
    labelled with its robot's expert action.
    """
    hp, device = agent.hp, agent.device
    n = envs.num_envs
    shape = (steps, n)
    norm_obs = torch.zeros((*shape, agent.obs_dim), device=device)
    samples = torch.zeros((*shape, agent.sampled_dim), device=device)
    means = torch.zeros_like(samples)
    log_probs, values, rewards, dones = (torch.zeros(shape, device=device) for _ in range(4))
    log_std = agent.log_std.detach().clone()
    labels = None if teachers is None else torch.zeros((*shape, envs.act_dim), device=device)
    episodes: list[tuple[int, FinishedEpisode]] = []
    for t in range(steps):
        if labels is not None:
            labels[t] = torch.as_tensor(teachers.actions(envs), device=device)
        agent.observe(obs)
        norm_obs[t] = agent.normalize(obs)
        samples[t], log_probs[t], means[t] = agent.sample(norm_obs[t], robot)
        values[t] = agent.state_value(norm_obs[t])
        step = envs.step(agent.to_action(samples[t]).cpu().numpy())
        reward = torch.as_tensor(step.reward, dtype=torch.float32, device=device) * \
            hp.reward_scale
        truncated = torch.as_tensor(step.truncated, dtype=torch.float32, device=device)
        if step.truncated.any():
            final = agent.state_value(agent.normalize(torch.as_tensor(step.final_obs,
                                                                      device=device)))
            reward = bootstrap_truncated(reward, truncated, final, agent.gamma)
        rewards[t] = reward
        dones[t] = torch.as_tensor(step.terminated | step.truncated, dtype=torch.float32,
                                   device=device)
        obs = torch.as_tensor(step.obs, device=device)
        episodes += [(t, episode) for episode in step.episodes]
    last_value = agent.state_value(agent.normalize(obs))
    advantage, returns = gae(rewards, values, dones, last_value, agent.gamma, hp.gae_lambda)

    def flat(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(steps * n, *x.shape[2:])

    rollout = Rollout(flat(norm_obs), None if robot is None else robot.repeat(steps),
                      flat(samples), flat(log_probs), flat(means), log_std, flat(advantage),
                      agent.value_target(flat(returns)),
                      None if labels is None else flat(labels))
    return Collected(rollout, obs, episodes)
