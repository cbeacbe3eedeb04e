"""The limits of the static checks, set from measured distributions of healthy and broken models.

benchmarks/doctor_margins.py measures every check's quantity on healthy models (our Decision Transformer in
both layouts and without its timestep embedding, the reference MLP with and without the previous action, a
user-style GRU; 20 initialisations each) and on the bug zoo (tests/bug_zoo.py), and writes the table to
benchmarks/results/doctor_margins.md. Each limit sits between the two: ``pass_at`` at a tenth of the
smallest healthy value (a margin of ten against a new init), ``fail_at`` at ten times the largest value a
bug of that kind gave, and never below the float32 noise floor ``NOISE`` (a change smaller than that is not
there). Exact properties (a cache, a mask, a loss that ignores padding) have one limit: float32 noise is
~1e-7 and a bug is ~1e-2 or more.
"""

from __future__ import annotations

from lightup.doctor.check_base import Limit

SAME = 1e-4  # relative difference below which two outputs count as equal (float32 noise is ~1e-7)
NOISE = SAME  # the lowest failing limit of a change that must be there: below it, a change is float noise

EXACT_OUTPUTS = Limit("relative change", SAME, SAME, higher_is_healthy=False)
CACHE = Limit("relative difference", SAME, SAME, higher_is_healthy=False)
LOSS_OF_PADDING = Limit("relative change of the loss", 1e-5, 1e-5, higher_is_healthy=False)
LOSS_OF_TARGETS = Limit("relative change of the loss", NOISE, 2.7e-3)
RETURNS = Limit("largest error", 1e-6, 1e-6, higher_is_healthy=False)
SAMPLING = Limit("log-probability difference (nats)", 1e-4, 1e-4, higher_is_healthy=False)
ENTROPY = Limit("entropy difference (nats)", 1e-4, 1e-4, higher_is_healthy=False)

# Relative change of the output when one input changes (at every position at once).
RETURNS_MATTER = Limit(
    "relative change",
    1e-3,
    3.6e-3,
    next_step="run the command-follow rung: it needs the return to choose the action",
)
# Healthy models measure 0.37 to 1.32 (doctor_margins.md); our Decision Transformer with a learned position
# embedding beside its timestep embedding (torch's default init, N(0, 1), 50 times the timestep
# embedding's) 0.024 to 0.034 (tests/healthy_shapes.py); pass from a tenth of that. Bugs measure 0.
TIMESTEPS_MATTER = Limit(
    "relative change",
    1e-3,
    2.3e-3,
    next_step="run the press-hard rung: its right button depends on the timestep",
)

# Relative change of the output at step t when one input changes at step t alone: the weakest position,
# row and phase of the episode. The interleaved layout reads R_t and a_{t-1} through attention from other
# tokens: at initialisation its changes are the smallest of the healthy models, 16 times those of the zoo's
# scaling bug for returns at worst, a gap too narrow for a margin of ten each way; that limit splits it at
# its geometric middle (about four each way).
BY_POSITION = {
    "returns_to_go": Limit(
        "relative change",
        5e-5,
        7e-5,
        next_step="run the press-length-5 rung: it needs the return at later steps",
    ),
    "states": Limit(
        "relative change",
        1.8e-4,
        6e-4,
        next_step="run the press-size-4 rung: it needs the state at every step",
    ),
    "prev_actions": Limit(
        "relative change",
        NOISE,
        NOISE,
        next_step="run the recall rung: it needs the previous action at every step",
    ),
    "timesteps": Limit(
        "relative change",
        NOISE,
        2.9e-3,
        next_step="run the press-hard rung: its right button depends on the timestep",
    ),
}
START_TOKEN = Limit(
    "relative change",
    NOISE,
    2.2e-4,
    next_step="run the recall rung: it tells the first step from the later ones",
)

# The greedy action of a continuous twin fit to one batch whose every action is `REACH_TARGET`: healthy models
# come within 0.05 of it (the fit stops there; benchmarks/results/doctor_new_checks.md), a mean squashed by a
# tanh before the head's own tanh stops at tanh(1) = 0.76, an error of 0.19.
REACH_TARGET = 0.95
REACH_STEPS = 300  # the fit's budget: healthy models take 30 to 150 Adam steps (doctor_new_checks.md)
REACH = Limit(
    "largest distance of the greedy action from the target",
    0.1,
    0.05,
    higher_is_healthy=False,
    next_step="run the continuous-target-action rung",
)

# Numbers a policy holds between pushes (tensors reachable from it, parameters aside), from K + 2 steps into
# an episode to 3K + 4: a ring or a window of K steps holds the same; a cache or log that keeps every step
# grows by at least one number a step. Exact: any growth fails.
HELD_GROWTH = Limit("numbers held, growth over 2K + 2 steps", 0.0, 0.0, higher_is_healthy=False)

INITIAL_ENTROPY = Limit("share of the maximum entropy", 0.9, 0.9)
DISTINCT_OUTPUTS = Limit("relative spread", 1e-3, 0.035, next_step="run the press-size-4 rung")

# Healthy models memorise the batch in 94 to 295 steps (benchmarks/results/doctor_margins.md); a model that
# needs more than 400 is inconclusive, one that needs more than 800 fails. Healthy models of other shapes can
# land between: a per-step MLP of two tanh layers of 64 takes 353 to 485 steps (tests/healthy_shapes.py), as
# does the zoo's learning rate 100x too high at one init of three (509 steps; it never memorises at the
# others): the step count alone cannot tell the two apart there, so neither passes.
OVERFIT_STEPS = 800  # the budget of `overfit_batch`
OVERFIT = Limit(
    "Adam steps to a loss below 0.05",
    OVERFIT_STEPS,
    400,
    higher_is_healthy=False,
    next_step="run the overfit-batch and lookup-table rungs with --seeds 5",
)
# Adam moves every parameter with a gradient by about one learning rate a step: healthy models move each
# tensor by many learning rates over the fit; a tensor that never trains moves by nothing.
MOVED = Limit(
    "smallest parameter movement, in learning rates",
    0.1,
    1.0,
    next_step="look for a parameter whose gradient is overwritten or scaled to nothing",
)

# Draws of the sampler per row of parameters (`checks_sampling`): the sampling noise of the total variation
# distance between frequencies and probabilities (4 actions) is ~0.003 at worst of 8 rows (torch's sampler:
# 0.003); of the Kolmogorov-Smirnov distance between two samples 0.007 to 0.012 at worst of 16 rows and
# dimensions (torch's TanhTransform: 0.012). Both limits sit above four times that noise; bugs measure 0.08
# (a Gumbel-max trick with the noise's sign flipped) to 0.6 (an argmax) in frequencies, 0.96 (a Gaussian
# draw without its tanh) in distributions.
SAMPLE_DRAWS = 50_000
SAMPLE_TV = Limit("total variation distance of sampled frequencies", 0.025, 0.025, higher_is_healthy=False)
SAMPLE_KS = Limit("Kolmogorov-Smirnov distance of sampled actions", 0.05, 0.05, higher_is_healthy=False)
# Exact: a tanh-Gaussian's draws lie in [-1, 1] (float32 rounds the tails to the edges, never past them).
SAMPLE_OUTSIDE = Limit("share of sampled actions outside [-1, 1]", 0.0, 0.0, higher_is_healthy=False)
# Exact: forward and push read their inputs; any change to one (a normalisation in place) fails.
INPUT_CHANGE = Limit("largest change of an input", 0.0, 0.0, higher_is_healthy=False)
# A directional derivative by autograd against central finite differences of the loss, relative error:
# healthy models agree to about 1e-8 in float64 (benchmarks/results/doctor_new_checks.md); a reversed
# gradient measures 2, a missing factor of 2 0.5. In float32 rounding alone reaches 1e-2.
GRADIENT_EXACT = Limit("relative error of a directional derivative", 1e-3, 1e-3, higher_is_healthy=False)
GRADIENT_FLOAT32 = Limit("relative error of a directional derivative", 0.3, 0.05, higher_is_healthy=False)
