"""The update step of the online trainer: gradient steps on windows from the replay buffer.

Each step fits the policy to the actions of the stored episodes at their hindsight returns-to-go (their
negative log-likelihood, advantage-weighted when ``advantage_beta`` is above 0), less an entropy term whose
weight (the temperature alpha) is learned to hold the policy's entropy at a target (Online DT, Zheng et al.
2022). `UpdateStep` holds these methods for `lightup.training.trainer.Trainer`, which owns the state.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lightup.errors import LightupError
from lightup.models.policy import SequencePolicy
from lightup.training.advantage import ValuePair, advantage_weights
from lightup.training.loss import action_log_prob, masked_mean
from lightup.training.replay import Episode, episode_lambda_returns, episode_layout
from lightup.training.returns import at_commands
from lightup.training.rollout import categorical_stats


def categorical_log_prob(logits: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor):
    """(log-probability (B, T) of the taken ``actions``, 0 at padded steps; entropy (B, T)) under
    ``Categorical(logits=logits)``: its arithmetic to the bit, without building the distribution object (a
    few percent of an update at CartPole's sizes; benchmarks/results/wall_time.md)."""
    log_probs = logits - logits.logsumexp(dim=-1, keepdim=True)
    taken = log_probs.gather(-1, actions.masked_fill(~mask, 0).unsqueeze(-1)).squeeze(-1)
    return taken * mask, categorical_stats(log_probs)[0]


class UpdateStep:
    """The trainer's update step (mixed into `Trainer`: it reads the trainer's policy, optimisers, buffer
    and config)."""

    @property
    def _plain_categorical(self) -> bool:
        """The policy's actions follow the contract's own categorical (not a distribution of its own)."""
        return self.policy.discrete and type(self.policy).distribution is SequencePolicy.distribution

    def _update(self) -> dict[str, float]:
        c = self.config
        self.policy.train()
        lr = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        # Each update's statistics stay tensors, summed and read once at the end of the round: reading a
        # number per update (``.item()``) waits for the device each time.
        totals: dict[str, list[torch.Tensor]] = {"train/loss": [], "train/nll": [], "train/entropy": []}
        if self.value_net is not None:
            totals["train/value_loss"] = []
            if c.advantage_baseline == "policy":
                totals["train/q_loss"] = []
            # At lambda 1 too for continuous actions: there an episode a time limit cut is bootstrapped at
            # the cut (TD(1)), not fit to its returns to the cut, which fall with the steps left, a thing
            # the value of the observation cannot see (benchmarks/results/learning_continuous.md). The
            # discrete path keeps its measured Monte Carlo targets.
            # Two values (`ValuePair`): the second (and the best action's, a third) learns one-step targets,
            # bootstrapped in any case.
            pair = isinstance(self.value_net, ValuePair)
            if (c.advantage_lambda < 1 or not self.discrete or pair) and c.updates_per_round:
                lam = (
                    (c.advantage_lambda, *[0.0] * (len(self.value_net.nets) - 1))
                    if pair
                    else c.advantage_lambda
                )
                self.buffer.bootstrap_value_targets(self._bootstrap_values, lam)
            k = self.value_net.advantage_index if pair else 0  # the value the advantages are taken against
        target_entropy = self.target_entropy
        # The loss is checked once, after the round's updates (a check per update waits for the device each
        # time): a non-finite one stops the run there, before anything is logged or saved.
        first_update = self.updates
        for _ in range(c.updates_per_round):
            batch = {
                k: v.to(self.device)
                for k, v in self.buffer.sample(
                    c.batch_size,
                    self.policy.context_len,
                    self.rng,
                    c.return_scale,
                    self.n_actions,
                    start_returns=c.entropy_at == "commands",
                ).items()
            }
            actions, mask = batch.pop("actions"), batch["mask"]
            value_targets = batch.pop("value_targets", None)
            value_inputs = batch.pop("value_inputs", None)
            start_returns = batch.pop("start_returns", None)
            params = self.policy(**batch)
            if not torch.isfinite(params).all():  # before the distribution's own checks raise on it
                self._non_finite("policy output", "nan", f"update {self.updates + 1}")
            n_real = mask.sum().clamp(min=1)
            if start_returns is None and self._plain_categorical:
                log_prob, step_entropy = categorical_log_prob(params, actions, mask)
            else:
                log_prob, dist = action_log_prob(params, actions, mask, self.discrete)
                if start_returns is not None:
                    # entropy_at commands: the policy on the same windows, as a rollout would play them
                    dist = self.policy.distribution(self.policy(**self._at_commands(batch, start_returns)))
                step_entropy = dist.entropy()
            nll = -log_prob.sum() / n_real
            entropy = (step_entropy * mask).sum() / n_real
            alpha = self.log_alpha.exp().detach() if c.entropy_target > 0 else 0.0
            if self.value_net is None:
                loss = nll - alpha * entropy
            else:
                out = self.value_net(value_inputs)
                if out.dim() == 3:  # one value: the shape of a pair's, (B, T, values, outputs)
                    out, value_targets = out.unsqueeze(-2), value_targets.unsqueeze(-1)
                values = out[..., 0]
                value_loss = masked_mean(((values - value_targets) ** 2).sum(-1), mask)
                totals["train/value_loss"].append(value_loss.detach())
                if c.advantage_baseline == "policy":
                    q = out[..., 1:]
                    taken = actions.masked_fill(~mask, 0)[..., None, None].expand(
                        *actions.shape, q.shape[-2], 1
                    )
                    q_taken = q.gather(-1, taken).squeeze(-1)
                    q_loss = masked_mean(((q_taken - value_targets) ** 2).sum(-1), mask)
                    totals["train/q_loss"].append(q_loss.detach())
                    value_loss = value_loss + q_loss
                    q = q[..., k, :].detach()
                    advantages = q_taken[..., k].detach() - (params.detach().softmax(-1) * q).sum(-1)
                else:
                    advantages = value_targets[..., k] - values[..., k].detach()
                weights = advantage_weights(advantages, mask, c.advantage_beta)
                loss = -(weights * log_prob).sum() / n_real - alpha * entropy + value_loss
            self.optimizer.zero_grad(set_to_none=True)
            if self.value_net is not None:
                self.value_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(self._parameters, c.grad_clip, foreach=True)
            self.optimizer.step()
            if self.value_net is not None:
                self.value_optimizer.step()
            if c.ema > 0:
                self._average()
            if c.entropy_target > 0:
                # The temperature's loss is alpha * (entropy - target); its gradient in log alpha is the same
                # product, set here directly rather than through autograd for one scalar.
                with torch.no_grad():
                    self.log_alpha.grad = self.log_alpha.exp() * (entropy.detach() - target_entropy)
                self.alpha_optimizer.step()
            self.updates += 1
            totals["train/loss"].append(loss.detach())
            totals["train/nll"].append(nll.detach())
            totals["train/entropy"].append(entropy.detach())
        n = max(c.updates_per_round, 1)
        last = [self.log_alpha.detach().exp()] + ([grad_norm] if c.updates_per_round else [])
        values = iter(torch.stack([t.float() for v in totals.values() for t in v] + last).tolist())
        out = {}
        for k, v in totals.items():
            total = 0.0  # summed one update after the other, in Python floats (the logged digits stay)
            for _ in v:
                total += next(values)
            out[k] = total / n
        out["train/alpha"] = next(values)
        if c.updates_per_round:
            out["train/grad_norm"] = next(values)
        if c.updates_per_round and not math.isfinite(out["train/loss"]):
            self._non_finite("loss", out["train/loss"], f"updates {first_update + 1} to {self.updates}")
        if isinstance(self.value_net, ValuePair):
            out["train/value_choice"] = float(self.value_net.chosen)
            for name, error in zip(("history", "observation"), self.value_net.errors.tolist(), strict=True):
                if not math.isnan(error):  # NaN: not scored yet (the first rounds), nothing to log
                    out[f"train/value_error_{name}"] = error
        out["train/target_entropy"] = target_entropy
        out["train/learning_rate"] = lr
        return out

    @torch.inference_mode()
    def _values(self, inputs: np.ndarray) -> np.ndarray:
        """The value net's values of its ``inputs`` (N, F), in return units (it learns scaled ones): (N,),
        or (N, 2) for a `ValuePair` (its first two)."""
        values = self.value_net(torch.from_numpy(inputs).to(self.device))[..., 0]
        if isinstance(self.value_net, ValuePair):
            values = values[..., :2]
        return values.double().cpu().numpy() * self.config.return_scale

    @torch.inference_mode()
    def _bootstrap_values(self, inputs: np.ndarray) -> np.ndarray:
        """What the value targets bootstrap from at ``inputs`` (N, F), in return units: the values, and with
        a `ValuePair`'s best action's value, that net's largest Q (N, 3)."""
        out = self.value_net(torch.from_numpy(inputs).to(self.device))
        values = self.value_net.bootstrap(out) if isinstance(self.value_net, ValuePair) else out[..., 0]
        return values.double().cpu().numpy() * self.config.return_scale

    def _score_values(self, episodes: list[Episode]) -> None:
        """With two values (`ValuePair`): each one's mean squared error (in return-scale units) predicting
        the discounted returns of ``episodes``, which no value has trained on, folded into its running
        mean. An episode a time limit cut adds each value's own estimate at the cut, as its targets do."""
        if not isinstance(self.value_net, ValuePair) or not episodes or not self.updates:
            return  # (untrained values: their errors say nothing of what they learn)
        ends, starts, t = episode_layout(episodes)
        observations = np.concatenate([e.observations for e in episodes])
        actions = np.concatenate([e.actions for e in episodes])
        values = self._values(self.buffer.value_inputs(observations, actions, t, np.arange(len(t))))
        returns = episode_lambda_returns(episodes, values, ends, starts, self.buffer.value_gamma, 1.0)
        errors = (((values - returns) / self.config.return_scale) ** 2).mean(axis=0)
        self.value_net.score(torch.from_numpy(errors))

    def _at_commands(self, batch: dict[str, torch.Tensor], start_returns: torch.Tensor) -> dict:
        """``batch`` with the returns-to-go of each window's episode replayed from a fresh rollout command
        (`lightup.training.returns.at_commands`; padding stays 0)."""
        scale, mask = self.config.return_scale, batch["mask"]
        commands = self.rollout_targets(len(start_returns))
        commands = torch.as_tensor(commands, dtype=torch.float32, device=start_returns.device)
        rtg = at_commands(
            batch["returns_to_go"],
            batch["timesteps"],
            start_returns / scale,
            commands / scale,
            self.config.gamma,
        )
        return dict(batch, returns_to_go=torch.where(mask, rtg, 0.0))

    def _average(self) -> None:
        """Move the averaged weights toward the trained ones (the first call copies them)."""
        if self.averaged is None:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.averaged = AveragedModel(self.policy, multi_avg_fn=get_ema_multi_avg_fn(self.config.ema))
        self.averaged.update_parameters(self.policy)

    def learning_rate(self) -> float:
        """The learning rate of the next updates: ``lr``, or on the linear schedule ``lr`` falling to
        ``lr_final_frac * lr`` at ``total_steps`` (from the env steps taken so far)."""
        c = self.config
        if c.lr_schedule == "constant":
            return c.lr
        return c.lr * (1.0 - (1.0 - c.lr_final_frac) * self._progress())

    def _progress(self) -> float:
        """The share of ``total_steps`` taken so far, at most 1: where the linear schedules stand."""
        return min(self.steps / self.config.total_steps, 1.0)

    @property
    def target_entropy(self) -> float:
        """The entropy (nats) the learned temperature holds the policy at for the next updates:
        ``entropy_target`` of the maximum, or on its way to ``entropy_target_final`` at ``total_steps``.
        Continuous actions: minus the number of action dimensions, as SAC (Haarnoja et al. 2018) and Online
        DT set it (a share of the uniform's on [-1, 1], log 2 per dimension, was tried on
        LunarLanderContinuous-v3: benchmarks/results/learning_continuous.md)."""
        c = self.config
        if not self.discrete:
            return -float(self.n_actions)
        share = c.entropy_target
        if c.entropy_target_final is not None:
            share += (c.entropy_target_final - share) * self._progress()
        return share * math.log(self.n_actions)

    def _non_finite(self, what: str, value, updates: str) -> None:
        raise LightupError(
            f"the {what} became {value} at env step {self.steps} ({updates}); the last good "
            f"checkpoint stays in {self.run_dir}: lower --lr or check the env's observations and rewards"
        )
