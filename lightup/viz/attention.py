"""Attention maps of a Decision Transformer over one episode: which earlier steps each step looks at.

The weights are recomputed from the blocks' own modules (``ln_1``, ``attn.qkv``) with the mask that
``DecisionTransformer.forward`` uses, so the model itself is untouched; `attention_maps` also returns the
forward's output computed along the way, which tests compare with ``forward`` to prove the two agree.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from lightup.models.decision_transformer import DecisionTransformer


def _allowed(model: DecisionTransformer, mask: Tensor) -> Tensor:
    """(B, 1, L, L) bool: the banded causal mask of ``forward`` (which passes None, plain causal, when the
    band is not reached and nothing is padded; this mask is equal to it then)."""
    b, t = mask.shape
    tps = model.config.tokens_per_step
    step = torch.arange(t * tps, device=mask.device) // tps
    lag = step[:, None] - step[None, :]  # (L, L): query step minus key step
    causal = torch.ones_like(lag, dtype=torch.bool).tril()
    band = causal & (lag < model.context_len)
    key_real = mask.repeat_interleave(tps, dim=1)[:, None, None, :]  # (B, 1, 1, L)
    return (band & key_real) | torch.eye(t * tps, dtype=torch.bool, device=mask.device)


@torch.inference_mode()
def attention_maps(
    model: DecisionTransformer,
    returns_to_go: Tensor,
    states: Tensor,
    prev_actions: Tensor,
    timesteps: Tensor,
    mask: Tensor,
) -> tuple[Tensor, Tensor]:
    """Per-step attention (n_layer, B, H, T, T) read at each step's state token (where the action is
    predicted) and summed over the key step's tokens; and the action parameters (B, T, P)."""
    model.eval()
    tps = model.config.tokens_per_step
    b, t = returns_to_go.shape
    x = model._embed(returns_to_go, states, prev_actions, timesteps)  # (B, L, C)
    allowed = _allowed(model, mask)
    maps = []
    for block in model.blocks:
        q, k, _ = block.attn.qkv(block.ln_1(x))  # (B, H, L, D)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, H, L, L)
        weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
        h = weights.shape[1]
        w = weights[:, :, tps - 1 :: tps]  # queries at the state tokens: (B, H, T, L)
        maps.append(w.reshape(b, h, t, t, tps).sum(-1))  # (B, H, T, T)
        x = block(x, allowed)
    return torch.stack(maps), model._readout(x)


def plot_attention(maps: Tensor, title: str = "Attention over one episode", max_steps: int = 64):
    """One panel per layer, heads averaged: row = the step acting, column = the step it looks at."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    maps = maps[:, 0, :, :max_steps, :max_steps].mean(dim=1).cpu().numpy()  # (n_layer, T, T)
    n = maps.shape[0]
    fig = Figure(figsize=(3.6 * n + 0.8, 3.8), dpi=100, layout="constrained")
    axes = [fig.add_subplot(1, n, i + 1) for i in range(n)]
    for i, (ax, m) in enumerate(zip(axes, maps, strict=True)):
        image = ax.imshow(np.ma.masked_where(m == 0, m), cmap="viridis", vmin=0, vmax=1, origin="upper")
        ax.set_title(f"layer {i + 1} (heads averaged)", fontsize="small")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step attended to")
        ax.set_ylabel("acting step")
    fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
    fig.suptitle(title)
    return fig
