"""A Decision Transformer (Chen et al. 2021) with two token layouts and an exact KV cache.

Layouts (``DTConfig.layout``):
- ``interleaved``: three tokens per step, (a_{t-1}, R_t, s_t); a_t is read from the state token. Apart from a
  leading start token this is the paper's sequence R_1 s_1 a_1 R_2 s_2 a_2 ...
- ``stacked``: one token per step, the sum of the embeddings of R_t, s_t and a_{t-1} (a linear map of their
  concatenation): a third of the interleaved layout's tokens.

Attention is causal and banded: a token sees the tokens of its own step and of the K - 1 steps before it
(K = ``context_len``), in every layer, in training and in rollouts alike. Training windows are at most K
steps long, where the band changes nothing. Past K steps a rollout keeps a ring buffer of the last K steps'
keys and values: O(K) per step, and exactly equal to ``forward`` over the whole episode (tested), as in
sliding-window attention (Beltagy et al. 2020, Longformer; Jiang et al. 2023, Mistral).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightup.errors import LightupError
from lightup.models.policy import SequencePolicy


@dataclass
class DTConfig:
    obs_dim: int
    """Observation size (flattened)."""
    act_dim: int
    """Number of actions (discrete) or action dimensions (continuous)."""
    discrete: bool = True
    """Categorical head if True, tanh-squashed Gaussian head if False."""
    context_len: int = 20
    """K: steps of history the policy sees (the paper: 20 for gym, 30 for Atari)."""
    n_layer: int = 3
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    layout: Literal["interleaved", "stacked"] = "stacked"
    timestep_embedding: bool = True
    """Add a learned embedding of the episode timestep to every token (without it, nothing learned)."""
    max_episode_len: int = 1024
    """Timesteps at or past this share the last embedding."""

    def __post_init__(self) -> None:
        for name in ("obs_dim", "act_dim", "context_len", "n_layer", "n_head", "n_embd", "max_episode_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise LightupError(f"DTConfig.{name} must be an integer >= 1, got {value!r}")
        if self.n_embd % self.n_head:
            raise LightupError(f"DTConfig.n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise LightupError(f"DTConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if self.layout not in ("interleaved", "stacked"):
            raise LightupError(f"DTConfig.layout must be 'interleaved' or 'stacked', got {self.layout!r}")

    @property
    def tokens_per_step(self) -> int:
        return 3 if self.layout == "interleaved" else 1

    def to_dict(self) -> dict:
        return asdict(self)


class SelfAttention(nn.Module):
    def __init__(self, config: DTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, L, C) -> three (B, H, L, C/H)."""
        b, length, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        return tuple(t.view(b, length, self.n_head, c // self.n_head).transpose(1, 2) for t in (q, k, v))

    def attend(self, q: Tensor, k: Tensor, v: Tensor, allowed: Tensor | None) -> Tensor:
        """q (B, H, Lq, D), k and v (B, H, Lk, D), allowed (B, 1, Lq, Lk) or None for plain causal."""
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=drop, is_causal=allowed is None
        )
        b, h, length, d = y.shape
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(b, length, h * d)))  # (B, Lq, C)


class Block(nn.Module):
    """Pre-LayerNorm transformer block (GPT-2)."""

    def __init__(self, config: DTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = SelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd),
            nn.GELU(),
            nn.Linear(4 * config.n_embd, config.n_embd),
            nn.Dropout(config.dropout),
        )
        self.n_head, self.eps = config.n_head, (self.ln_1.eps, self.ln_2.eps)  # plain attributes: fast

    def forward(self, x: Tensor, allowed: Tensor | None) -> Tensor:
        x = x + self.attn.attend(*self.attn.qkv(self.ln_1(x)), allowed)
        return x + self.mlp(self.ln_2(x))

    def step_params(self) -> tuple[Tensor, ...]:
        """The parameters ``step`` reads, in its order, gathered once per ``begin``: layer norms as they
        are, each linear map as (bias, weight transposed into a contiguous copy), the layout under which a
        small matrix product is fastest on a CPU (a snapshot: ``begin`` again after changing weights)."""
        a, fc, proj = self.attn, self.mlp[0], self.mlp[2]
        linears = [(m.bias, m.weight.t().contiguous()) for m in (a.c_attn, a.c_proj, fc, proj)]
        params = (self.ln_1.weight, self.ln_1.bias, self.ln_2.weight, self.ln_2.bias, *sum(linears, ()))
        return tuple(p.detach() for p in params)  # inference only

    def step(self, x: Tensor, n: int, cache: Tensor, slots: slice, bias: Tensor, params: tuple) -> Tensor:
        """x (N * tps, C): the new tokens of N sequences; their keys and values go into the cache
        (2, N, H, L, D) at ``slots``; ``bias`` is an additive mask (N, 1, 1 or tps, L); ``params`` from
        ``step_params``. Inference only (no dropout). The same arithmetic as ``forward`` in functional calls
        on 2-D tokens: a rollout step is bound by per-call overhead, not by arithmetic
        (benchmarks/kv_cache.py). Two batched matmuls in place of the fused attention are faster at K 60
        and slower at K 20 (the default) on a 2-core CPU: the fused kernel stays."""
        ln1_w, ln1_b, ln2_w, ln2_b, qkv_b, qkv_wt, out_b, out_wt, fc_b, fc_wt, proj_b, proj_wt = params
        c, h = x.shape[1], self.n_head
        tps = x.shape[0] // n
        y = F.layer_norm(x, (c,), ln1_w, ln1_b, self.eps[0])
        qkv = torch.addmm(qkv_b, y, qkv_wt).view(n, tps, 3, h, c // h)
        qkv = qkv.permute(2, 0, 3, 1, 4)  # (3, N, H, tps, D)
        cache[:, :, :, slots] = qkv[1:]  # keys and values in one write
        y = F.scaled_dot_product_attention(qkv[0], cache[0], cache[1], attn_mask=bias)
        x = x + torch.addmm(out_b, y.transpose(1, 2).reshape(n * tps, c), out_wt)
        y = F.layer_norm(x, (c,), ln2_w, ln2_b, self.eps[1])
        return x + torch.addmm(proj_b, F.gelu(torch.addmm(fc_b, y, fc_wt)), proj_wt)


class DecisionTransformer(SequencePolicy):
    def __init__(self, config: DTConfig):
        super().__init__()
        self.config = config
        self.obs_dim, self.act_dim = config.obs_dim, config.act_dim
        self.discrete, self.context_len = config.discrete, config.context_len
        d = config.n_embd
        self.embed_return = nn.Linear(1, d)
        self.embed_state = nn.Linear(config.obs_dim, d)
        if config.discrete:
            # Index act_dim is the start token: an input embedding only; the head has act_dim outputs.
            self.embed_action = nn.Embedding(config.act_dim + 1, d)
        else:
            self.embed_action = nn.Linear(config.act_dim, d)
            self.start_embedding = nn.Parameter(torch.zeros(d))
        self.embed_timestep = nn.Embedding(config.max_episode_len, d) if config.timestep_embedding else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, self.n_params)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight") or name.endswith("mlp.2.weight"):
                # GPT-2: scale residual projections by depth.
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))
        # A small head makes the initial policy close to uniform (maximal entropy).
        nn.init.normal_(self.head.weight, std=0.002)
        nn.init.zeros_(self.head.bias)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def _embed(
        self, returns_to_go: Tensor, states: Tensor, prev_actions: Tensor, timesteps: Tensor
    ) -> Tensor:
        """Inputs with leading dims (B, T) -> tokens (B, T * tokens_per_step, C)."""
        r = self.embed_return(returns_to_go.unsqueeze(-1))
        s = self.embed_state(states)
        if self.discrete:
            a = self.embed_action(prev_actions)
        else:
            start = (timesteps == 0).unsqueeze(-1)
            a = torch.where(start, self.start_embedding, self.embed_action(prev_actions))
        time = 0.0
        if self.embed_timestep is not None:
            time = self.embed_timestep(timesteps.clamp(0, self.config.max_episode_len - 1))
        x = self._tokens(r, s, a, time)
        return self.drop(x) if self.training else x

    def _tokens(self, r: Tensor, s: Tensor, a: Tensor, time: Tensor | float) -> Tensor:
        """Embeddings of R_t, s_t, a_{t-1} and t, each (..., T, C) -> the layout's tokens (..., T * tps, C):
        their sum (stacked), or (a_{t-1}, R_t, s_t) in turn, each plus the time (interleaved)."""
        if self.config.layout == "stacked":
            return r + s + a + time
        return torch.stack([a + time, r + time, s + time], dim=-2).flatten(-3, -2)

    def _readout(self, h: Tensor) -> Tensor:
        """Final hidden states (B, T * tps, C) -> parameters (B, T, P), read at each step's state token."""
        tps = self.config.tokens_per_step
        h = h.view(h.shape[0], -1, tps, h.shape[-1])[:, :, tps - 1]  # (B, T, C)
        return self.head(self.ln_f(h))

    def forward(
        self, returns_to_go: Tensor, states: Tensor, prev_actions: Tensor, timesteps: Tensor, mask: Tensor
    ) -> Tensor:
        b, t = returns_to_go.shape
        tps = self.config.tokens_per_step
        x = self._embed(returns_to_go, states, prev_actions, timesteps)
        allowed = None  # plain causal: the fast path when nothing is padded and the band is not reached
        if t > self.context_len or not bool(mask.all()):
            step = torch.arange(t * tps, device=x.device) // tps
            lag = step[:, None] - step[None, :]  # (L, L): query step minus key step
            causal = torch.ones_like(lag, dtype=torch.bool).tril()
            band = causal & (lag < self.context_len)
            key_real = mask.repeat_interleave(tps, dim=1)[:, None, None, :]  # (B, 1, 1, L)
            # A token always sees itself, so padded rows stay finite (and are never read).
            allowed = (band & key_real) | torch.eye(t * tps, dtype=torch.bool, device=x.device)
        for block in self.blocks:
            x = block(x, allowed)
        return self._readout(x)

    # --- incremental interface: a ring buffer of the last K steps' keys and values per layer ---
    #
    # All N sequences push together, so one ring position serves them all: step number ``pos`` of the batch
    # writes its tokens' keys and values to slots ``(pos % K) * tps ...`` of every sequence, overwriting the
    # step K pushes back (the band). Attention has no positions of its own (time enters through the
    # timestep embedding of each token), so where a step sits in the ring does not matter. ``_bias`` holds
    # 0 for the slots a sequence may see and -inf for the others (never written, or from before a reset);
    # it is one additive mask for every layer. The whole step is a handful of plain slice writes.
    # ``begin`` also gathers the parameters a step reads (some as transposed copies): the cache and the
    # step belong to the weights of that moment, so after changing the weights, begin again and replay the
    # episodes under way (`lightup.training.rollout.Rollout.refresh` does).

    def begin(self, n: int) -> None:
        c, tps = self.config, self.config.tokens_per_step
        p = next(self.parameters())
        slots = c.context_len * tps
        shape = (c.n_layer, 2, n, c.n_head, slots, c.n_embd // c.n_head)  # keys and values
        self._cache = torch.zeros(shape, dtype=p.dtype, device=p.device)
        self._bias = torch.full((n, 1, 1, slots), -torch.inf, dtype=p.dtype, device=p.device)
        self._pos = 0
        # Within a step, token j sees the step's tokens up to j: for the step at ring position g, -inf at
        # (j, g * tps + i) for i > j, else 0. (K, 1, tps, L); not needed for one token per step.
        step_bias = torch.zeros(c.context_len, 1, tps, slots, dtype=p.dtype, device=p.device)
        later = torch.ones(tps, tps, dtype=torch.bool, device=p.device).triu(1)
        for g in range(c.context_len):
            step_bias[g, 0, :, g * tps : (g + 1) * tps].masked_fill_(later, -torch.inf)
        self._step_bias = step_bias if tps > 1 else None
        self._layer_caches = self._cache.unbind(0)  # views, one per layer
        self._step_params = [block.step_params() for block in self.blocks]
        # The parameters of the embeddings and the readout, detached (rollouts are inference only).
        embed = (
            self.embed_return.weight,
            self.embed_return.bias,
            self.embed_state.weight,
            self.embed_state.bias,
            self.embed_action.weight,
            None if self.discrete else self.embed_action.bias,
            None if self.embed_timestep is None else self.embed_timestep.weight,
        )
        self._embed_params = tuple(None if p is None else p.detach() for p in embed)
        ln_f, head = self.ln_f, self.head
        ln_w, ln_b, head_wt = ln_f.weight.detach(), ln_f.bias.detach(), head.weight.detach().t().contiguous()
        self._readout_params = (ln_w, ln_b, ln_f.eps, head.bias.detach(), head_wt)

    def _embed_step(self, rtg: Tensor, states: Tensor, prev_actions: Tensor, timesteps: Tensor) -> Tensor:
        """``_embed`` for one step of each sequence, (N, ...) -> (N * tps, C), with the same arithmetic in
        functional calls on the parameters gathered by ``begin`` (forward hooks on the embedding modules do
        not run here)."""
        r_w, r_b, s_w, s_b, a_w, a_b, t_w = self._embed_params
        r = F.linear(rtg[:, None], r_w, r_b)
        s = F.linear(states, s_w, s_b)
        if self.discrete:
            a = F.embedding(prev_actions, a_w)
        else:
            start = self.start_embedding.detach()
            a = torch.where((timesteps == 0)[:, None], start, F.linear(prev_actions, a_w, a_b))
        time = 0.0 if t_w is None else F.embedding(timesteps.clamp(0, self.config.max_episode_len - 1), t_w)
        return self._tokens(r, s, a, time)  # the N sequences' steps as T

    def push(self, returns_to_go: Tensor, states: Tensor, prev_actions: Tensor, timesteps: Tensor) -> Tensor:
        tps = self.config.tokens_per_step
        x = self._embed_step(returns_to_go, states, prev_actions, timesteps)  # (N * tps, C)
        n = returns_to_go.shape[0]
        g = self._pos % self.context_len
        slots = slice(g * tps, (g + 1) * tps)
        self._bias[..., slots] = 0.0  # the new step's slots: visible from now on
        bias = self._bias if self._step_bias is None else self._bias + self._step_bias[g]
        for i, block in enumerate(self.blocks):
            x = block.step(x, n, self._layer_caches[i], slots, bias, self._step_params[i])
        self._pos += 1
        ln_w, ln_b, eps, head_b, head_wt = self._readout_params
        h = F.layer_norm(x.view(n, tps, -1)[:, tps - 1], ln_w.shape, ln_w, ln_b, eps)  # the state token
        return torch.addmm(head_b, h, head_wt)  # (N, P), as ``_readout``

    def reset(self, done: Tensor) -> None:
        self._bias.masked_fill_(done.to(self._bias.device)[:, None, None, None], -torch.inf)
