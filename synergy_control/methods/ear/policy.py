"""EAR's networks (seed 002, §3.2): a multi-task SAC policy whose task is a point on a sphere.

- state encoder: observation → MLP → unit vector (16-d in the reference);
- task encoder: one-hot task → MLP → unit vector, the latent task embedding (LTE, 3-d);
- action decoder: [state embedding, LTE] → MLP → tanh-Gaussian action;
- twin critics on [observation, action, one-hot task].

Because the decoder only sees the task through the LTE, any unit vector is a task: the
exported graph takes it as a second input (``task``, source ``task_embedding``), and the card
lists the named training tasks with their embeddings, so the runtime and the policy node can
choose, blend and adapt tasks without torch.

The paper perturbs the LTE during training (z + N(0, σ²), re-normalised) to smooth the task
space; the released code computes the noisy LTE but feeds the clean one to the decoder.
``noise_reaches_decoder`` selects the paper's behaviour (default) or the released code's.

``adapt_from`` (a trained EAR run or checkpoint) is the gradient baseline of EAR's adaptation
experiment: the state encoder and decoder are loaded and frozen, each task of the new run
gets a free embedding (a parameter normalised onto the sphere) learned by SAC's actor loss,
and the critics, which have never seen the new task, learn from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from synergy_control.policies.networks import (LOG_STD_MAX, LOG_STD_MIN, TwinCritic, mlp,
                                               tanh_gaussian_sample)
from synergy_control.policies.registry import ActorKind, PolicyBuilder, register_policy
from synergy_control.settings import NONNEG, POSITIVE, WIDTHS, ConfigError, option

AT_LEAST_TWO = ('>= 2', lambda v: v >= 2)


class TaskEmbeddingActor(nn.Module):
    """State encoder, task encoder and action decoder of EAR (tanh-Gaussian)."""

    def __init__(self, obs_dim: int, act_dim: int, num_tasks: int, settings: EARPolicy.Settings):
        super().__init__()
        self.num_tasks = num_tasks
        self.noise = settings.embedding_noise if settings.noise_reaches_decoder else 0.0
        self.state_encoder = mlp(obs_dim, settings.state_hidden, settings.state_dim)
        # adapting: one free vector per task instead of the one-hot encoder
        self.task_encoder = (nn.Linear(num_tasks, settings.task_dim, bias=False)
                             if settings.adapt_from else
                             mlp(num_tasks, settings.task_hidden, settings.task_dim))
        hidden = settings.decoder_hidden
        self.trunk = mlp(settings.state_dim + settings.task_dim, hidden[:-1], hidden[-1])
        self.mean = nn.Linear(hidden[-1], act_dim)
        self.log_std = nn.Linear(hidden[-1], act_dim)

    def embeddings(self) -> torch.Tensor:
        """Return the LTE of every training task [tasks, D], on the unit sphere."""
        eye = torch.eye(self.num_tasks, device=self.mean.weight.device)
        return F.normalize(self.task_encoder(eye), dim=-1)

    def task_embedding(self, obs: torch.Tensor, robot: torch.Tensor | None,
                       noisy: bool) -> torch.Tensor:
        """Each sample's LTE [B, D] (the run's only task when ``robot`` is None)."""
        if robot is None:
            robot = torch.zeros(obs.shape[:-1], dtype=torch.long, device=obs.device)
        z = self.embeddings()[robot]
        if noisy and self.noise > 0:
            z = F.normalize(z + self.noise * torch.randn_like(z), dim=-1)
        return z

    def decode(self, obs: torch.Tensor, task: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and clamped log-std of the pre-tanh Gaussian for observations and LTEs."""
        state = F.normalize(self.state_encoder(obs), dim=-1)
        h = F.relu(self.trunk(torch.cat([state, task], -1)))
        return self.mean(h), self.log_std(h).clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, obs: torch.Tensor,
               robot: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised action in (-1, 1) and its log-probability, with the LTE noise."""
        return tanh_gaussian_sample(*self.decode(obs, self.task_embedding(obs, robot, noisy=True)))

    def deterministic(self, obs: torch.Tensor,
                      robot: torch.Tensor | None = None) -> torch.Tensor:
        """Return the evaluation action: tanh of the mean, with the clean LTE."""
        return torch.tanh(self.decode(obs, self.task_embedding(obs, robot, noisy=False))[0])


class TaskCritic(nn.Module):
    """Twin Q(s, a, one-hot task) → [2, B]: the critics know the task, not its embedding."""

    def __init__(self, obs_dim: int, act_dim: int, num_tasks: int, hidden: list[int]):
        super().__init__()
        self.num_tasks = num_tasks
        self.q = TwinCritic(obs_dim + num_tasks, act_dim, hidden)

    def forward(self, obs: torch.Tensor, action: torch.Tensor,
                robot: torch.Tensor | None = None, first_only: bool = False) -> torch.Tensor:
        """Return Q [2, B] ([1, B] with ``first_only``) for the task of each sample."""
        if robot is None:
            robot = torch.zeros(obs.shape[:-1], dtype=torch.long, device=obs.device)
        one_hot = F.one_hot(robot, self.num_tasks).to(obs.dtype)
        return self.q(torch.cat([obs, one_hot], -1), action, first_only=first_only)


class EmbeddingCommandedPolicy(nn.Module):
    """Export graph: (obs [B, N], task [B, D]) → action [B, A]; the task is any unit vector."""

    def __init__(self, normalizer: nn.Module, actor: TaskEmbeddingActor):
        super().__init__()
        self.normalizer, self.actor = normalizer, actor

    def forward(self, obs: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.actor.decode(self.normalizer(obs), task)[0])


@register_policy('ear')
class EARPolicy(PolicyBuilder):
    """EAR's actor and critics for one robot on a set of tasks (``robot`` + ``tasks``)."""

    @dataclass
    class Settings:
        """Widths and sizes of the reference (seed-algorithms §3); noise as in the paper."""

        state_hidden: list[int] = option([400, 400], WIDTHS)
        state_dim: int = option(16, POSITIVE)
        task_hidden: list[int] = option([400], WIDTHS)
        task_dim: int = option(3, AT_LEAST_TWO)
        decoder_hidden: list[int] = option([400, 400, 400, 400], WIDTHS)
        critic_hidden: list[int] = option([400, 400, 400, 400], WIDTHS)
        embedding_noise: float = option(0.02, NONNEG)
        noise_reaches_decoder: bool = True
        adapt_from: str = ''

    def __init__(self, context, settings):
        super().__init__(context, settings)
        robots = {robot.name for robot in context.robots}
        if len(robots) != 1:
            raise ValueError(f"policy 'ear' drives one robot on a set of tasks (config keys "
                             f"'robot' and 'tasks'), got robots {sorted(robots)}")
        self.num_tasks = len(context.names)
        self.actor: TaskEmbeddingActor | None = None

    def make_actor(self, kind: ActorKind) -> nn.Module:
        """Return the Gaussian EAR actor (SAC); kept to read the embeddings at export."""
        if kind != 'gaussian':
            raise ConfigError("config key 'algorithm': policy 'ear' has a Gaussian actor "
                              '(algorithm: sac or ppo)')
        ctx = self.context
        self.actor = TaskEmbeddingActor(ctx.obs_dim, ctx.act_dim, self.num_tasks, self.settings)
        if self.settings.adapt_from:
            self._load_frozen(self.actor)
        return self.actor

    def make_ppo_actor(self) -> nn.Module:
        """Return the same actor, its mean tanh of the decoder's mean at the clean LTE.

        PPO's ratio needs the exact log-probability of an action; with noise on the LTE that
        reaches the decoder the policy is a mixture over the noise, which has none.
        """
        settings = self.settings
        if settings.embedding_noise > 0 and settings.noise_reaches_decoder:
            raise ConfigError("config key 'policy.embedding_noise': algorithm ppo has no "
                              'log-probability for noise on the task embedding that reaches '
                              'the decoder: set it to 0, or noise_reaches_decoder: false')
        return self.make_actor('gaussian')

    def _load_frozen(self, actor: TaskEmbeddingActor) -> None:
        """Load a trained EAR actor's state encoder and decoder and freeze them."""
        from synergy_control.training.checkpoint import load_checkpoint
        from synergy_control.export.trained import resolve_checkpoint
        source = resolve_checkpoint(self.settings.adapt_from)
        trained = {key.removeprefix('actor.'): value
                   for key, value in load_checkpoint(source)['agent'].items()
                   if key.startswith('actor.') and not key.startswith('actor.task_encoder.')}
        try:
            missing, unexpected = actor.load_state_dict(trained, strict=False)
        except RuntimeError as error:  # sizes differ
            missing, unexpected = [str(error).splitlines()[-1].strip()], []
        if unexpected or any(not key.startswith('task_encoder.') for key in missing):
            raise ValueError(f'policy.adapt_from: {source} is not an EAR actor of these sizes '
                             f'({", ".join(missing + unexpected)})')
        for name, parameter in actor.named_parameters():
            parameter.requires_grad_(name.startswith('task_encoder.'))

    def make_critic(self) -> nn.Module:
        """Twin critics on the one-hot task."""
        ctx = self.context
        return TaskCritic(ctx.obs_dim, ctx.act_dim, self.num_tasks, self.settings.critic_hidden)

    def export_module(self, actor: nn.Module, normalizer: nn.Module, robot: int) -> nn.Module:
        """Return one graph for every task: the task embedding is its second input."""
        return EmbeddingCommandedPolicy(normalizer, actor)

    def task_names(self) -> list[str]:
        """Names of the training tasks in index order (``vel:3``)."""
        return [task or 'default' for task in self.context.tasks]

    @torch.no_grad()
    def task_embeddings(self) -> dict[str, list[float]]:
        """Each training task's LTE, by name."""
        if self.actor is None:
            raise RuntimeError("policy 'ear' has no actor yet")
        vectors = self.actor.embeddings().double().cpu().numpy()
        return {name: [float(v) for v in vector]
                for name, vector in zip(self.task_names(), vectors)}

    def export_spec(self, robot: int) -> dict:
        """Declare inputs obs and task, output action, and the tasks section (default: robot's)."""
        ctx, dim = self.context, self.settings.task_dim
        return {'inputs': [{'name': 'obs', 'shape': ['batch', ctx.obs_dims[robot]],
                            'source': 'observation'},
                           {'name': 'task', 'shape': ['batch', dim], 'source': 'task_embedding'}],
                'outputs': [{'name': 'action', 'shape': ['batch', ctx.act_dims[robot]],
                             'role': 'action'}],
                'synergy': None,
                'tasks': {'dim': dim, 'default': self.task_names()[robot],
                          'embeddings': self.task_embeddings()}}
