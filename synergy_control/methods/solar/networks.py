"""SOLAR's synergy-aware transformer actor and critic, and the AMORPHEUS-like baseline.

All morphologies of a batch go through one padded, masked pass. A batch holds, per sample:

``tokens``     [B, T, 19] limb tokens (torso first, limb pre-order), zero-padded to T limbs;
``membership`` [B, T, L] 0/1: limb t belongs to synergy l (torso row and padding all zero;
               unused synergy columns all zero).

Actor (paper §3.2): token embedding → intra-synergy attention (a limb attends to limbs of its
own synergy and to the torso) → mean pooling per synergy → inter-synergy attention over
[torso, synergy tokens] → one synergy action ``z_l`` per synergy → actuator actions
``a = tanh(T z)``. ``T`` (K × L) is zero outside each synergy, so T works for any L and at
each state the actions span at most L directions. Its entries are loadings computed
(``loadings``):

- ``'static'``: from the morphology alone (limb type and joint range of the limb and of its
  synergy). One fixed K × L matrix per robot: every state's action lies in the same L
  directions, and a synergy's actuators always move in a fixed ratio.
- ``'state'``: from those static features and the limb's and its synergy's transformer
  features, as the released code reads T from limb-pair scores of the hidden features at each
  synergy's centre. The directions follow the state. Measured (distilling Walker++ experts
  on their own states, 58k samples): with ``'static'`` even the best fixed ratio leaves
  0.17–0.20 of the experts' 0.43–0.52 action variance per actuator unexplained on walker_4,
  5 and 7, whose affinity structures group three joints into one synergy.

Unlike the released code with ``d_model = 1``, every actuator gets a non-zero loading.

With ``pool=False`` it is the AMORPHEUS-like baseline (a transformer over limbs and one
decoder per limb); ``mask=True`` on that baseline is the "AMORPHEUS w/ synergy mask" ablation.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from synergy_control.observation import TOKEN_FEATURES, TOKEN_SIZE
from synergy_control.policies.networks import EnsembleLinear

#: Token features that do not change with the state: limb type one-hot and joint range.
STATIC_FEATURES = [TOKEN_FEATURES.index(name) for name in
                   ('type_0', 'type_1', 'type_2', 'type_3', 'range_low', 'range_high')]
#: What T's loadings are computed from: the morphology, or the morphology and the state.
Loadings = Literal['static', 'state']


class AttentionLayer(nn.Module):
    """Post-LN transformer encoder layer whose attention takes a boolean mask [B, T, T]."""

    def __init__(self, d_model: int, heads: int, feedforward: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, feedforward), nn.ReLU(),
                                nn.Linear(feedforward, d_model))
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = (t.reshape(batch, length, self.heads, -1).transpose(1, 2)
                   for t in self.qkv(x).chunk(3, -1))
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed.unsqueeze(1))
        x = self.norm1(x + self.out(attended.transpose(1, 2).reshape(batch, length, width)))
        return self.norm2(x + self.ff(x))


def _encoder(d_model: int, heads: int, feedforward: int, layers: int) -> nn.ModuleList:
    return nn.ModuleList(AttentionLayer(d_model, heads, feedforward) for _ in range(layers))


def identity_mask(length: int, device: torch.device) -> torch.Tensor:
    """[1, T, T] boolean identity (``arange`` comparison: ONNX has no boolean EyeLike)."""
    index = torch.arange(length, device=device)
    return (index.unsqueeze(1) == index.unsqueeze(0)).unsqueeze(0)


def limb_mask(membership: torch.Tensor) -> torch.Tensor:
    """[B, T] True for real limbs: the torso and every limb that belongs to a synergy."""
    mask = membership.sum(-1) > 0
    mask[:, 0] = True
    return mask


def intra_synergy_attention_mask(membership: torch.Tensor, limbs: torch.Tensor) -> torch.Tensor:
    """[B, T, T] True where limb i may attend limb j: same synergy, or either is the torso.

    Padded limbs attend only themselves (an all-false row would give NaN) and nobody attends
    them, so padding never changes a real limb's output.
    """
    same = membership @ membership.transpose(1, 2) > 0
    torso = torch.zeros_like(same)
    torso[:, 0, :] = True
    torso[:, :, 0] = True
    both_real = limbs.unsqueeze(2) & limbs.unsqueeze(1)
    return ((same | torso) & both_real) | identity_mask(same.shape[-1], same.device)


def limb_attention_mask(membership: torch.Tensor, limbs: torch.Tensor, mask: bool
                        ) -> torch.Tensor:
    """[B, T, T] the limb attention's mask: within synergies (``mask``) or among all limbs."""
    if mask:
        return intra_synergy_attention_mask(membership, limbs)
    return (limbs.unsqueeze(2) & limbs.unsqueeze(1)) | identity_mask(limbs.shape[1], limbs.device)


def synergy_sequence(x: torch.Tensor, membership: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Pool limb features [..., B, T, d] per synergy: [torso, synergies] [..., B, 1 + L, d].

    Also returns which of those tokens are present [B, 1 + L] (unused synergy columns are not).
    """
    sizes = membership.sum(1)  # [B, L]
    pooled = membership.transpose(1, 2) @ x / sizes.clamp(min=1).unsqueeze(-1)
    sequence = torch.cat([x[..., :1, :], pooled], -2)  # the torso joins as a global token
    present = torch.cat([torch.ones_like(sizes[:, :1], dtype=torch.bool), sizes > 0], 1)
    return sequence, present


def present_mask(present: torch.Tensor) -> torch.Tensor:
    """[B, S, S] the inter-synergy attention's mask among the present tokens [B, S]."""
    return ((present.unsqueeze(2) & present.unsqueeze(1))
            | identity_mask(present.shape[1], present.device))


class SynergyTrunk(nn.Module):
    """Limb tokens → per-limb features [B, T, d] and per-synergy features [B, L, d]."""

    def __init__(self, in_features: int, d_model: int, heads: int, feedforward: int,
                 intra_layers: int, inter_layers: int, *, pool: bool, mask: bool):
        super().__init__()
        self.d_model, self.pool, self.mask = d_model, pool, mask
        self.embed = nn.Linear(in_features, d_model)
        self.intra = _encoder(d_model, heads, feedforward, intra_layers)
        self.inter = _encoder(d_model, heads, feedforward, inter_layers) if pool else None

    def forward(self, tokens: torch.Tensor, membership: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        limbs = limb_mask(membership)
        x = self.embed(tokens) * math.sqrt(self.d_model)
        allowed = limb_attention_mask(membership, limbs, self.mask)
        for layer in self.intra:
            x = layer(x, allowed)
        if not self.pool:
            return x, None
        sequence, present = synergy_sequence(x, membership)
        allowed = present_mask(present)
        for layer in self.inter:
            sequence = layer(sequence, allowed)
        return x, sequence[:, 1:]


class SynergyActor(nn.Module):
    """Deterministic actor: (tokens, membership) → (actions [B, T-1], synergy actions [B, L]).

    Actions of padded limbs are 0. Without pooling (the baseline) the second output is the
    per-limb action itself.
    """

    def __init__(self, d_model: int = 64, heads: int = 2, feedforward: int = 128,
                 intra_layers: int = 1, inter_layers: int = 2, *, pool: bool = True,
                 mask: bool = True, loading_hidden: int = 32,
                 loadings: Loadings = 'static'):
        super().__init__()
        self.trunk = SynergyTrunk(TOKEN_SIZE, d_model, heads, feedforward, intra_layers,
                                  inter_layers, pool=pool, mask=mask)
        self.decoder = nn.Sequential(nn.Linear(d_model, feedforward), nn.ReLU(),
                                     nn.Linear(feedforward, 1))
        self.state_loadings = loadings == 'state'
        inputs = 2 * len(STATIC_FEATURES) + (2 * d_model if self.state_loadings else 0)
        self.loading = nn.Sequential(nn.Linear(inputs, loading_hidden),
                                     nn.Tanh(), nn.Linear(loading_hidden, 1))
        with torch.no_grad():  # loadings start near 1: every actuator moves from the start
            self.loading[-1].bias.fill_(1.0)

    def transform(self, tokens: torch.Tensor, membership: torch.Tensor) -> torch.Tensor:
        """T [B, T, L]: each limb's loading on its own synergy (see ``loadings``)."""
        return self._transform(tokens, membership, *self.trunk(tokens, membership))

    def _transform(self, tokens: torch.Tensor, membership: torch.Tensor,
                   limb_features: torch.Tensor, synergy_features: torch.Tensor
                   ) -> torch.Tensor:
        static = tokens[..., STATIC_FEATURES]
        sizes = membership.sum(1).clamp(min=1)
        synergy_static = membership.transpose(1, 2) @ static / sizes.unsqueeze(-1)
        own = membership @ synergy_static  # [B, T, S]: the static mean of the limb's synergy
        inputs = [static, own]
        if self.state_loadings:  # the limb's features and those of its synergy
            inputs += [limb_features, membership @ synergy_features]
        return membership * self.loading(torch.cat(inputs, -1))

    def forward(self, tokens: torch.Tensor, membership: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        limb_features, synergy_features = self.trunk(tokens, membership)
        if synergy_features is None:
            per_limb = self.decoder(limb_features).squeeze(-1) * limb_mask(membership)
            return torch.tanh(per_limb[:, 1:]), per_limb
        synergy_actions = self.decoder(synergy_features).squeeze(-1)  # [B, L]
        transform = self._transform(tokens, membership, limb_features, synergy_features)
        actions = torch.tanh(transform @ synergy_actions.unsqueeze(-1)).squeeze(-1)
        return actions[:, 1:], synergy_actions * (membership.sum(1) > 0)


class EnsembleLayerNorm(nn.Module):
    """``n`` LayerNorms over [m, rows, width] (m ≤ n: the first m): stacked gamma and beta."""

    def __init__(self, n: int, width: int):
        super().__init__()
        self.width = width
        self.weight = nn.Parameter(torch.ones(n, 1, width))
        self.bias = nn.Parameter(torch.zeros(n, 1, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        members = x.shape[0]
        return torch.addcmul(self.bias[:members], F.layer_norm(x, (self.width,)),
                             self.weight[:members])


class EnsembleAttentionLayer(nn.Module):
    """``n`` :class:`AttentionLayer` s run as one: stacked weights, one SDPA over all members.

    Input [m, B·T, d] (m ≤ n: the first m members) and the mask [m·B, 1, T, T].
    """

    def __init__(self, n: int, d_model: int, heads: int, feedforward: int):
        super().__init__()
        self.heads = heads
        self.qkv = EnsembleLinear(n, d_model, 3 * d_model)
        self.out = EnsembleLinear(n, d_model, d_model)
        self.ff = nn.Sequential(EnsembleLinear(n, d_model, feedforward), nn.ReLU(),
                                EnsembleLinear(n, feedforward, d_model))
        self.norm1, self.norm2 = EnsembleLayerNorm(n, d_model), EnsembleLayerNorm(n, d_model)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        members, rows, width = x.shape
        samples, length = allowed.shape[0], allowed.shape[-1]
        q, k, v = (self.qkv(x).reshape(samples, length, 3, self.heads, -1)
                   .permute(2, 0, 3, 1, 4).unbind(0))  # each [m·B, heads, T, d/heads]
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        x = self.norm1(x + self.out(attended.transpose(1, 2).reshape(members, rows, width)))
        return self.norm2(x + self.ff(x))


class EnsembleSynergyTrunk(nn.Module):
    """``n`` :class:`SynergyTrunk` s as one batched computation over a leading member dim.

    Tokens [m, B, T, in] (m ≤ n: the first m) → limb features [m, B, T, d] and synergy
    features [m, B, L, d] (None without pooling), as trunk i of a loop would give for member i.
    """

    def __init__(self, n: int, in_features: int, d_model: int, heads: int, feedforward: int,
                 intra_layers: int, inter_layers: int, *, pool: bool, mask: bool):
        super().__init__()
        self.d_model, self.pool, self.mask = d_model, pool, mask
        self.embed = EnsembleLinear(n, in_features, d_model)
        self.intra = nn.ModuleList(EnsembleAttentionLayer(n, d_model, heads, feedforward)
                                   for _ in range(intra_layers))
        self.inter = nn.ModuleList(EnsembleAttentionLayer(n, d_model, heads, feedforward)
                                   for _ in range(inter_layers)) if pool else None

    def forward(self, tokens: torch.Tensor, membership: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        members, batch, length, _ = tokens.shape
        limbs = limb_mask(membership)
        x = self.embed(tokens.reshape(members, batch * length, -1)) * math.sqrt(self.d_model)
        allowed = self._for_members(limb_attention_mask(membership, limbs, self.mask), members)
        for layer in self.intra:
            x = layer(x, allowed)
        x = x.reshape(members, batch, length, self.d_model)
        if not self.pool:
            return x, None
        sequence, present = synergy_sequence(x, membership)
        allowed = self._for_members(present_mask(present), members)
        tokens_per_sample = sequence.shape[-2]
        sequence = sequence.reshape(members, batch * tokens_per_sample, self.d_model)
        for layer in self.inter:
            sequence = layer(sequence, allowed)
        return x, sequence.reshape(members, batch, tokens_per_sample, self.d_model)[:, :, 1:]

    @staticmethod
    def _for_members(allowed: torch.Tensor, members: int) -> torch.Tensor:
        """Repeat the [B, T, T] mask as SDPA's [m·B, 1, T, T], the same for every member."""
        return allowed.repeat(members, 1, 1).unsqueeze(1)


class SynergyCritic(nn.Module):
    """Twin Q over the same structure: Q = mean over synergies (or limbs) of a value head.

    Critic tokens are the observation token plus the limb's action (0 for the torso). The
    ``n`` critics are one :class:`EnsembleSynergyTrunk` and one stacked head: one batched pass
    for all, as the MLP's twin critics are. A checkpoint of the looped form (``trunks.i.*``,
    ``heads.i.*``: nn.Linear and nn.LayerNorm per critic) loads into it (:func:`fuse_legacy`).
    """

    def __init__(self, d_model: int = 64, heads: int = 2, feedforward: int = 128,
                 intra_layers: int = 1, inter_layers: int = 2, *, pool: bool = True,
                 mask: bool = True, n: int = 2):
        super().__init__()
        self.n = n
        self.trunk = EnsembleSynergyTrunk(n, TOKEN_SIZE + 1, d_model, heads, feedforward,
                                          intra_layers, inter_layers, pool=pool, mask=mask)
        self.head = nn.Sequential(EnsembleLinear(n, d_model, feedforward), nn.ReLU(),
                                  EnsembleLinear(n, feedforward, 1))

    def forward(self, tokens: torch.Tensor, membership: torch.Tensor,
                actions: torch.Tensor, first_only: bool = False) -> torch.Tensor:
        """Return [n, B] Q-values for actions [B, T-1] (padded limbs' actions ignored).

        ``first_only``: run only the first critic, [1, B] (its slice of every stacked weight).
        """
        members = 1 if first_only else self.n
        torso = torch.zeros_like(actions[:, :1])
        x = torch.cat([tokens, torch.cat([torso, actions], 1).unsqueeze(-1)], -1)
        limb_features, synergy_features = self.trunk(x.expand(members, *x.shape), membership)
        if synergy_features is None:
            weights, features = limb_mask(membership).float(), limb_features
        else:
            weights, features = (membership.sum(1) > 0).float(), synergy_features
        per_part = self.head(features.flatten(1, 2)).reshape(members, *weights.shape)
        return (per_part * weights).sum(-1) / weights.sum(-1)

    def legacy_names(self) -> dict[str, list[str]]:
        """Each parameter's name → the looped form's names of it, critic by critic."""
        return {name: [name.replace('trunk.', f'trunks.{i}.', 1) if name.startswith('trunk.')
                       else name.replace('head.', f'heads.{i}.', 1) for i in range(self.n)]
                for name, _ in self.named_parameters()}

    def legacy_optimizer_state(self, state: dict) -> dict:
        """Convert an optimiser state of the looped critic's parameters (others pass as is).

        The looped form registered trunk 0, trunk 1, head 0, head 1: its optimiser indexes
        their parameters in that order. Per-parameter moments are stacked like the weights;
        a scalar such as Adam's ``step`` (the same for all) is critic 0's.
        """
        names = self.legacy_names()
        order = [olds[member] for part in ('trunk.', 'head.') for member in range(self.n)
                 for name, olds in names.items() if name.startswith(part)]
        group, = state['param_groups']
        if len(group['params']) != len(order) or len(order) == len(names):
            return state
        legacy = {old: state['state'][index] for old, index in zip(order, group['params'])
                  if index in state['state']}
        fused = {}
        if legacy:  # else the optimiser never stepped: no state to convert
            keys = next(iter(legacy.values()))
            stacked = {key: fuse_legacy({old: value[key] for old, value in legacy.items()},
                                        names) for key in keys if keys[key].dim() > 0}
            fused = {index: {key: stacked[key][name] if key in stacked
                             else legacy[names[name][0]][key] for key in keys}
                     for index, name in enumerate(names)}
        return {'state': fused, 'param_groups': [{**group, 'params': list(range(len(names)))}]}

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args) -> None:
        if any(key.startswith(prefix + 'trunks.') for key in state_dict):
            fused = fuse_legacy({key[len(prefix):]: state_dict.pop(key)
                                 for key in list(state_dict) if key.startswith(prefix)},
                                self.legacy_names())
            state_dict.update({prefix + key: value for key, value in fused.items()})
        super()._load_from_state_dict(state_dict, prefix, *args)


def fuse_legacy(legacy: dict[str, torch.Tensor], names: dict[str, list[str]]
                ) -> dict[str, torch.Tensor]:
    """Stack the looped critics' tensors (``legacy`` by their names) as the fused parameters.

    ``names``: :meth:`SynergyCritic.legacy_names`. An nn.Linear weight [out, in] becomes an
    :class:`EnsembleLinear` member's [in, out]; a bias or LayerNorm vector [w] becomes [1, w].
    Also used on an optimiser's per-parameter state (Adam's moments have the same shapes).
    """
    missing = [old for olds in names.values() for old in olds if old not in legacy]
    if missing:
        raise KeyError(f'a looped SOLAR critic state lacks {missing}')
    return {name: torch.stack([legacy[old].T if legacy[old].dim() == 2
                               else legacy[old].unsqueeze(0) for old in olds])
            for name, olds in names.items()}
