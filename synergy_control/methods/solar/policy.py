"""SOLAR's policy builder: synergy-aware TD3 actor and twin critics over limb tokens.

One builder serves SOLAR, its baselines and ablations; ``policy.variant`` selects:

``solar``                intra-synergy attention, pooling, inter-synergy attention, a = tanh(T z)
``solar_no_preference``  the same network; the re-clustering hook uses the affinity alone
``amorpheus``            a transformer over limbs, one decoder per limb (AMORPHEUS-like)
``amorpheus_masked``     that transformer with SOLAR's intra-synergy attention mask

A batch holds the flat ``modular`` observations of several robots, zero-padded to the largest:
they are reshaped to limb tokens [B, T, 19] and each sample's membership [B, T, L] is looked
up by its robot index in a :class:`SynergyTable`, so all morphologies go through ONE padded,
masked forward and backward pass. The table is a (persistent) buffer of every network, the
target copies included: checkpoints carry the structures, and the ``solar_recluster`` hook
(:mod:`synergy_control.methods.solar.hooks`) rewrites every table of the agent at once.

Exported per robot: ``(obs [batch, N], membership [K, L]) -> (action [batch, K], synergy
[batch, L])`` (the AMORPHEUS variants: action only, there is no synergy action). The graph has
no Python control flow on sizes, so one trace serves every robot of the family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from synergy_control.methods.solar.networks import Loadings, SynergyActor, SynergyCritic
from synergy_control.methods.solar.synergies import discover
from synergy_control.observation import TOKEN_SIZE
from synergy_control.policies.registry import (ActorKind, PolicyBuilder, PolicyContext,
                                               register_policy)
from synergy_control.settings import NONNEG, POSITIVE, ConfigError, option
from synergy_control.synergy import SynergyStructure
from synergy_control.training.normalizer import Standardize

Variant = Literal['solar', 'solar_no_preference', 'amorpheus', 'amorpheus_masked']
#: variant -> (pool into synergies, mask attention across synergies)
ARCHITECTURES: dict[str, tuple[bool, bool]] = {
    'solar': (True, True), 'solar_no_preference': (True, True),
    'amorpheus': (False, False), 'amorpheus_masked': (False, True)}


#: The key of a module's extra state in its state dict (``torch.nn.Module``'s).
EXTRA_STATE = '_extra_state'


def legacy_structures(membership: torch.Tensor, centres: torch.Tensor) -> dict:
    """Structures of a checkpoint written before the table kept them: from its padded buffers.

    Only such a checkpoint is read back this way; each actuator row of its membership is one-hot.
    """
    structures = []
    for table, exemplars in zip(membership.cpu().numpy(), centres.tolist()):
        rows = table[1:][table[1:].sum(1) > 0]
        structures.append({'labels': rows.argmax(1).tolist(),
                           'centres': [c for c in exemplars if c >= 0]})
    return {'structures': structures}


class SynergyTable(nn.Module):
    """Structure of every robot of a policy, and its membership padded for one batched pass.

    ``structures[i]`` is the :class:`SynergyStructure` in force for robot i, the object the
    ``solar_recluster`` hook (or the builder) put there: the export and the card read it as it
    is. The buffer ``membership`` [robots, limbs, synergies] is its padded form for the
    networks: row 0 of a robot is its torso (all zero), rows 1..K its actuators; padded limb
    rows and unused synergy columns are zero (``centres``: -1 padding). A batch gets only the
    columns some robot uses (``width``): the inter-synergy attention runs over the synergies
    in force, not over one slot per actuator. A checkpoint carries the structures as plain
    labels and centres (the module's extra state).
    """

    def __init__(self, structures: list[SynergyStructure], limbs: int):
        super().__init__()
        self.register_buffer('membership', torch.zeros(len(structures), limbs, limbs - 1))
        self.register_buffer('centres', torch.full((len(structures), limbs - 1), -1))
        self.structures = list(structures)
        self.width = 1
        for index, structure in enumerate(structures):
            self.set(index, structure)

    @torch.no_grad()
    def set(self, index: int, structure: SynergyStructure) -> None:
        """Put ``structure`` in force for robot ``index``."""
        actuators, count = structure.actuators, structure.count
        self.structures[index] = structure
        self.membership[index].zero_()
        self.membership[index, 1:actuators + 1, :count] = torch.as_tensor(structure.membership)
        self.centres[index].fill_(-1)
        self.centres[index, :count] = torch.as_tensor(structure.centres)
        self.width = max(s.count for s in self.structures)

    def structure(self, index: int) -> SynergyStructure:
        """Return the structure in force for robot ``index``."""
        return self.structures[index]

    def get_extra_state(self) -> dict:
        """Return the structures in force as plain data (labels, centres), for a checkpoint."""
        return {'structures': [{'labels': list(s.labels), 'centres': list(s.centres)}
                               for s in self.structures]}

    def set_extra_state(self, state: dict) -> None:
        """Put a checkpoint's structures back in force (and their padded membership)."""
        saved = state['structures']
        if len(saved) != len(self.structures):
            raise ValueError(f'a checkpoint holds synergy structures of {len(saved)} robots, '
                             f'this policy serves {len(self.structures)}')
        for index, structure in enumerate(saved):
            self.set(index, SynergyStructure(tuple(structure['labels']),
                                             tuple(structure['centres'])))

    def _load_from_state_dict(self, state_dict: dict, prefix: str, local_metadata: dict,
                              strict: bool, missing_keys: list, *args) -> None:
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      *args)
        key = prefix + EXTRA_STATE
        if key not in state_dict:  # a checkpoint written before the table kept its structures
            if key in missing_keys:
                missing_keys.remove(key)
            self.set_extra_state(legacy_structures(self.membership, self.centres))

    def forward(self, robot: torch.Tensor | None, batch: int, limbs: int) -> torch.Tensor:
        """Each sample's membership [batch, limbs, L] (robot 0 when ``robot`` is None)."""
        table = self.membership[:, :limbs, :self.width]
        if robot is None:
            return table[0].expand(batch, -1, -1)
        return table[robot.reshape(-1).expand(batch)]


def tokens_of(obs: torch.Tensor) -> torch.Tensor:
    """Flat modular observations [..., T·19] → limb tokens [B, T, 19] (B: all leading dims)."""
    return obs.reshape(-1, obs.shape[-1] // TOKEN_SIZE, TOKEN_SIZE)


class SolarActor(nn.Module):
    """Deterministic actor on padded flat observations: ``actor(obs, robot) -> action``."""

    def __init__(self, net: SynergyActor, table: SynergyTable):
        super().__init__()
        self.net, self.table = net, table

    def forward(self, obs: torch.Tensor, robot: torch.Tensor | None = None) -> torch.Tensor:
        tokens = tokens_of(obs)
        action, _ = self.net(tokens, self.table(robot, tokens.shape[0], tokens.shape[1]))
        return action.reshape(*obs.shape[:-1], action.shape[-1])

    def deterministic(self, obs: torch.Tensor,
                      robot: torch.Tensor | None = None) -> torch.Tensor:
        """Return the action (the actor has no noise of its own)."""
        return self(obs, robot)


class SolarCritic(nn.Module):
    """Twin Q over the same structure: ``critic(obs, action, robot) -> [2, B]``.

    ``first_only``: only the first critic runs ([1, B]), for TD3's actor loss.
    """

    def __init__(self, net: SynergyCritic, table: SynergyTable):
        super().__init__()
        self.net, self.table = net, table

    def forward(self, obs: torch.Tensor, action: torch.Tensor,
                robot: torch.Tensor | None = None, first_only: bool = False) -> torch.Tensor:
        tokens = tokens_of(obs)
        membership = self.table(robot, tokens.shape[0], tokens.shape[1])
        return self.net(tokens, membership, action.reshape(tokens.shape[0], -1),
                        first_only=first_only)

    def legacy_optimizer_state(self, state: dict) -> dict:
        """Convert its optimiser's state of a checkpoint of the looped critic (see the net's)."""
        return self.net.legacy_optimizer_state(state)


class TokenStandardize(nn.Module):
    """The run's observation normaliser applied per limb token, to any robot of the run."""

    def __init__(self, normalizer: Standardize):
        super().__init__()
        self.register_buffer('mean', normalizer.mean.reshape(-1, TOKEN_SIZE).clone())
        self.register_buffer('std', normalizer.std.reshape(-1, TOKEN_SIZE).clone())
        self.clip = normalizer.clip

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        limbs = tokens.shape[1]
        return torch.clamp((tokens - self.mean[:limbs]) / self.std[:limbs],
                           -self.clip, self.clip)


class SynergyPolicyGraph(nn.Module):
    """Export graph: ``(obs [batch, N], membership [K, L]) -> (action [batch, K], synergy)``.

    Limb count, actuators and synergies all come from the input shapes, so one trace with
    dynamic axes serves every robot (with a normaliser: every robot up to the run's largest).
    """

    def __init__(self, normalizer: nn.Module, net: SynergyActor, synergy_output: bool):
        super().__init__()
        self.normalize = (TokenStandardize(normalizer) if isinstance(normalizer, Standardize)
                          else nn.Identity())
        self.net, self.synergy_output = net, synergy_output

    def forward(self, obs: torch.Tensor, membership: torch.Tensor
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        tokens = self.normalize(obs.reshape(obs.shape[0], -1, TOKEN_SIZE))
        limbs = torch.cat([torch.zeros_like(membership[:1]), membership], 0)  # torso row
        action, synergy = self.net(tokens, limbs.unsqueeze(0).expand(tokens.shape[0], -1, -1))
        return (action, synergy) if self.synergy_output else action


def set_structure(module: nn.Module, index: int, structure: SynergyStructure) -> None:
    """Put ``structure`` in force for robot ``index`` in every network inside ``module``."""
    for table in module.modules():
        if isinstance(table, SynergyTable):
            table.set(index, structure)


@register_policy('solar')
class SolarPolicy(PolicyBuilder):
    """SOLAR, AMORPHEUS and the two ablations over ``obs_mode: modular`` limb tokens (TD3)."""

    @dataclass
    class Settings:
        """Variant and transformer sizes (reference: 128 wide, 2 heads, ff 256, 1 + 2 layers).

        The AMORPHEUS variants stack ``intra_layers + inter_layers`` layers over limbs: the
        same depth as SOLAR's. ``loadings`` (SOLAR's variants only): T's loadings from the
        morphology (``static``, the default, what the shipped walker was trained with) or from
        the morphology and the state (``state``; see :mod:`.networks`).
        """

        variant: Variant = 'solar'
        d_model: int = option(128, POSITIVE)
        heads: int = option(2, POSITIVE)
        feedforward: int = option(256, POSITIVE)
        intra_layers: int = option(1, POSITIVE)
        inter_layers: int = option(2, NONNEG)
        loadings: Loadings = 'static'

    def __init__(self, context: PolicyContext, settings: Settings):
        super().__init__(context, settings)
        if any(o.mode != 'modular' for o in context.observers):
            raise ConfigError("config key 'obs_mode': policy 'solar' reads limb tokens, "
                              "set obs_mode: modular")
        if settings.d_model % settings.heads:
            raise ConfigError(f"config key 'policy.d_model': expected a multiple of "
                              f'policy.heads ({settings.heads}), got {settings.d_model}')
        self.pool, self.mask = ARCHITECTURES[settings.variant]
        if settings.loadings != 'static' and not self.pool:
            raise ConfigError(f"config key 'policy.loadings': variant '{settings.variant}' "
                              'decodes each limb on its own and has no loadings; leave it '
                              "'static'")
        self.limbs = max(len(robot.limbs) for robot in context.robots)
        self.actor: SolarActor | None = None

    @property
    def clustered(self) -> bool:
        """Whether the variant uses synergy structures (all but plain AMORPHEUS)."""
        return self.settings.variant != 'amorpheus'

    def initial_structures(self) -> list[SynergyStructure]:
        """Before any value estimate: affinity alone (one synergy for plain AMORPHEUS)."""
        if not self.clustered:
            return [SynergyStructure.single(k) for k in self.context.act_dims]
        return [discover(robot.hop_distances).structure for robot in self.context.robots]

    def _sizes(self) -> dict:
        s = self.settings
        layers = ((s.intra_layers, s.inter_layers) if self.pool
                  else (s.intra_layers + s.inter_layers, 0))
        return {'d_model': s.d_model, 'heads': s.heads, 'feedforward': s.feedforward,
                'intra_layers': layers[0], 'inter_layers': layers[1], 'pool': self.pool,
                'mask': self.mask}

    def _actor_sizes(self) -> dict:
        return {**self._sizes(), 'loadings': self.settings.loadings}

    def make_actor(self, kind: ActorKind) -> nn.Module:
        """Make the deterministic synergy actor (SOLAR is trained with TD3)."""
        if kind != 'deterministic':
            raise ConfigError("config key 'algorithm': policy 'solar' has a deterministic "
                              'actor, train it with td3')
        self.actor = SolarActor(SynergyActor(**self._actor_sizes()),
                                SynergyTable(self.initial_structures(), self.limbs))
        return self.actor

    def make_critic(self) -> nn.Module:
        """Make twin critics over the same structure."""
        return SolarCritic(SynergyCritic(**self._sizes()),
                           SynergyTable(self.initial_structures(), self.limbs))

    def structure(self, robot: int) -> SynergyStructure:
        """Return the structure in force for robot index ``robot`` (the actor's)."""
        if self.actor is None:
            raise RuntimeError("policy 'solar' has no actor yet: make_actor first")
        return self.actor.table.structure(robot)

    def export_module(self, actor: nn.Module, normalizer: nn.Module, robot: int) -> nn.Module:
        """Return the same graph for every robot: its membership is the second input."""
        return SynergyPolicyGraph(normalizer, actor.net, self.pool)

    def export_spec(self, robot: int) -> dict:
        """Declare inputs obs and membership (the card's, from the structure in force), outputs.

        The card's ``synergy`` section is written once, from the table's structure object.
        """
        ctx, structure = self.context, self.structure(robot)
        actuators, count = ctx.act_dims[robot], structure.count
        outputs = [{'name': 'action', 'shape': ['batch', actuators], 'role': 'action'}]
        if self.pool:
            outputs.append({'name': 'synergy', 'shape': ['batch', count],
                            'role': 'synergy_activations'})
        return {'inputs': [{'name': 'obs', 'shape': ['batch', ctx.obs_dims[robot]],
                            'source': 'observation'},
                           {'name': 'membership', 'shape': [actuators, count],
                            'source': 'synergy.membership'}],
                'outputs': outputs,
                'synergy': structure.to_card(variant=self.settings.variant),
                'tasks': None}
