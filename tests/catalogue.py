"""The catalogue of bad inputs: each a `Case` (name, argv, expected_exit, then what the one error line must
say and the files it needs), run through the real CLI by tests/test_catalogue.py and by the reliability
script. Every case must end in one line on stderr, no traceback, and no file changed.

In ``argv`` and ``says``, ``{tmp}`` is the case's own folder (the working directory while it runs) and
``{run}`` a copy of a tiny finished training run inside it (made by its setup, tests/catalogue_setups.py).
The tables below give each case as (argv, says[, setup[, name]]); the name defaults to the argv.
"""

from __future__ import annotations

import math
import os
import shlex
from pathlib import Path
from typing import NamedTuple

import torch
from catalogue_setups import (
    DEEP,
    LONG_LINE,
    Setup,
    bench_folder,
    both,
    crafted,
    crafted_tensors,
    dangling_links,
    deep_runs_line,
    env_run,
    fifo_in_bench,
    make_base_run,
    old_folders,
    optimizer_moment,
    plain_file,
    read_only,
    run_copy,
    run_file,
    set_tensor,
    with_config,
    with_counters,
)

__all__ = ["CASES", "Case", "make_base_run", "prepare"]


class Case(NamedTuple):
    name: str
    argv: tuple[str, ...]
    expected_exit: int = 2
    says: str = ""
    """Text the one error line must hold."""
    setup: Setup | None = None
    """(the case's folder, a tiny finished run) -> the files the case needs."""


def prepare(case: Case, tmp: Path, base_run: Path) -> list[str]:
    """Make the case's files in ``tmp`` and return its argv with the placeholders filled in."""
    if case.setup is not None:
        case.setup(tmp, base_run)
    return [arg.format(tmp=tmp, run=tmp / "run") for arg in case.argv]


T = "train lightup/PressButton-v0 --run-dir {tmp}/new"  # a train that would write only in {tmp}
B = "bench --envs lightup/PressButton-v0"
R = "train --resume {run}"
LONG = "a" * 300  # a file name longer than any file system takes
F = plain_file("f")  # a file where a folder is expected
RUN_AND_F = both(run_copy, plain_file("f"))

# fmt: off
ROWS: list[tuple] = [
    # sizes, counts and seeds out of range
    (f"{T} --seed -1", "--seed must be an integer from 0 to 4_294_967_295, got -1"),
    (f"{T} --seed {2**70}", "--seed must be an integer from 0 to 4_294_967_295", None, "train --seed 2**70"),
    (f"{T} --n-embd 1000000", "--n-embd must be an integer from 1 to 8192"),
    (f"{T} --context-len 10000000", "--context-len must be an integer from 1 to 4096"),
    (f"{T} --batch-size 1000000000", "--batch-size must be an integer from 1 to 65536"),
    (f"{T} --threads 100000", "--threads must be an integer from 1 to 256"),
    (f"{T} --n-envs 1000000", "--n-envs must be an integer from 1 to 1024"),
    (f"{T} --eval-episodes 1000000", "--eval-episodes must be an integer from 1 to 1024"),
    (f"{T} --n-layer 1000", "--n-layer must be an integer from 1 to 64"),
    (f"{T} --n-head 0", "--n-head must be an integer from 1 to 64"),
    (f"{T} --total-steps 0", "--total-steps must be an integer from 1 to"),
    (f"{T} --total-steps {10**20}", "--total-steps must be an integer from 1 to 10_000_000_000"),
    (f"{T} --rollout-steps 1000000000", "--rollout-steps must be an integer from 1 to 100000"),
    (f"{T} --buffer-capacity {10**12}", "--buffer-capacity must be an integer from 1 to 10_000_000"),
    (f"{T} --value-hidden 1000000", "--value-hidden must be an integer from 1 to 8192"),
    (f"{T} --checkpoint-every 0", "--checkpoint-every must be an integer from 1"),
    (f"{T} --eval-every -5", "--eval-every must be an integer from 1"),
    (f"{T} --updates-per-round -1", "--updates-per-round must be an integer from 0 to 100000"),
    (f"{T} --max-env-errors 0", "--max-env-errors must be an integer from 1"),
    (f"{T} --command.k 0", "--command.k must be an integer from 1"),
    (f"{T} --n-envs 4 --greedy-envs 5", "--greedy-envs must be from 0 to --n-envs (4)"),
    (f"{T} --n-embd 8192 --n-layer 64 --n-head 64 --context-len 4096 --batch-size 65536", "need about", None,
     "train: sizes each in range, together beyond memory"),
    (f"{T} --env-options size=100000000", "size must be an integer from 2 to 1024"),
    (f"{T} --env-options game_length=100000", "game_length must be an integer from 1 to"),
    ("train lightup/RecallButton-v0 --run-dir {tmp}/new --env-options delay=100000",
     "delay must be an integer"),
    # NaN, infinity and numbers out of range
    (f"{T} --max-return nan", "--max-return must be a finite number"),
    (f"{T} --return-scale inf", "--return-scale must be a finite number >= 1e-06"),
    (f"{T} --command.value nan", "--command.value must be a finite number"),
    (f"{T} --command.jitter -1", "--command.jitter must be a finite number >= 0 and <= 1"),
    (f"{T} --command.margin inf", "--command.margin must be a finite number"),
    (f"{T} --command.offset -inf", "--command.offset must be a finite number"),
    (f"{T} --lr nan", "--lr must be a finite number > 0 and < 1, got nan"),
    (f"{T} --lr 5", "--lr must be a finite number > 0 and < 1, got 5.0"),
    (f"{T} --temperature 0", "--temperature must be a finite number >= 1e-06 and <= 100"),
    (f"{T} --gamma nan", "--gamma must be a finite number > 0 and <= 1"),
    (f"{T} --dropout 1", "--dropout must be a finite number >= 0 and < 1"),
    (f"{T} --ema 1", "--ema must be a finite number >= 0 and < 1"),
    (f"{T} --grad-clip 0", "--grad-clip must be a finite number > 0"),
    (f"{T} --weight-decay inf", "--weight-decay must be a finite number >= 0"),
    (f"{T} --init-alpha 0", "--init-alpha must be a finite number > 0"),
    (f"{T} --alpha-lr -1", "--alpha-lr must be a finite number >= 0"),
    (f"{T} --advantage-beta -1", "--advantage-beta must be a finite number >= 0"),
    (f"{T} --advantage-gamma 0", "--advantage-gamma must be a finite number > 0"),
    (f"{T} --entropy-target nan", "--entropy-target must be a finite number >= 0 and <= 1"),
    (f"{T} --entropy-target-final 2",
     "--entropy-target-final must be a finite number >= 0 and <= 1, got 2.0"),
    (f"{T} --lr-final-frac 1.5", "--lr-final-frac must be a finite number >= 0 and <= 1"),
    # the right flag named
    (f"{T} --frobnicate 3 --quiet", "Unrecognized options: --frobnicate"),
    (f"{T} --qiuet", "did you mean --quiet"),
    (f"{T} --n-envs 4 --n-envs=5", "--n-envs is given twice"),
    (f"{T} --lr", "Missing value for argument '--lr'"),
    (f"{T} --seed x", "Error parsing --seed"),
    ("doctor --static-only --layout diagonal", "invalid choice 'diagonal' for argument '--layout'"),
    ("doctor --static-only --layout", "--layout needs at least one"),
    ("games --fast", "Unrecognized options: --fast"),
    (f"{T} --exp-name ../../elsewhere", "--exp-name must be a plain name"),
    (f"{B} --name ../x", "--name must be a plain name"),
    # output paths, per writing command: a file for a folder, under a file, unwritable, too long a name
    ("train lightup/PressButton-v0 --run-dir {tmp}/f", "--run-dir '{tmp}/f' is a file", F),
    ("train lightup/PressButton-v0 --run-dir {tmp}/f/run", "'{tmp}/f' is a file", F),
    ("train lightup/PressButton-v0 --run-root {tmp}/f", "'{tmp}/f' is a file", F),
    ("train lightup/PressButton-v0 --run-dir /proc/lightup-run", "is not writable"),
    ("train lightup/PressButton-v0 --run-dir {tmp}/" + LONG, "names are at most 255", None,
     "train --run-dir a name of 300 bytes"),
    ("train lightup/PressButton-v0 --exp-name " + LONG, "names are at most 255", None,
     "train --exp-name of 300 bytes"),
    ("report {run} --out {tmp}/f/report.html", "'{tmp}/f' is a file", RUN_AND_F),
    ("train lightup/PressButton-v0 --run-dir {tmp}/nowhere", "'{tmp}/nowhere' is a link that leads nowhere",
     dangling_links),
    ("train lightup/PressButton-v0 --run-root {tmp}/loop1", "'{tmp}/loop1' is a link that leads nowhere",
     dangling_links),
    (f"{B} --agents dt-stacked --out {{tmp}}/nowhere/b", "is a link that leads nowhere", dangling_links),
    ("doctor --static-only --out {tmp}/loop2", "'{tmp}/loop2' is a link that leads nowhere", dangling_links),
    ("report {run} --out /proc/lightup/report.html", "is not writable", run_copy),
    ("report {run} --out {run}", "is a folder", run_copy),
    ("report {run} --out {tmp}/" + LONG + ".html", "names are at most 255", run_copy,
     "report --out a name of 300 bytes"),
    ("watch {run} --out {tmp}/f/x.gif", "'{tmp}/f' is a file", RUN_AND_F),
    ("watch {run} --out /proc/lightup/x.gif", "is not writable", run_copy),
    (f"{B} --seeds 1 --out {{tmp}}/f", "is a file", F),
    (f"{B} --seeds 1 --out {{tmp}}/f/res", "'{tmp}/f' is a file", F),
    (f"{B} --seeds 1 --out /proc/lightup-bench", "is not writable"),
    ("doctor --static-only --out {tmp}/f", "is a file", F),
    # files a command did not write, and the other kind of folder
    ("report {run} --out {run}/checkpoint.safetensors", "is a file of the run this command reads", run_copy),
    ("report {run} --out {run}/config.json --force", "is a file of the run this command reads", run_copy),
    ("report {run} --out {run}/metrics.jsonl --force", "is a file of the run this command reads", run_copy),
    ("report {run} --out {tmp}/notes.html", "add --force", both(run_copy, plain_file("notes.html"))),
    ("watch {run} --out {run}/config.json", "--out must end in .gif or .mp4", run_copy),
    ("watch {run} --out {tmp}/mine.gif", "add --force", both(run_copy, plain_file("mine.gif"))),
    ("doctor --static-only --out {tmp}", "add --force", plain_file("doctor.json", "mine"),
     "doctor --out holding someone's doctor.json"),
    ("train lightup/PressButton-v0 --run-dir {tmp}", "holds a config.json that `lightup train` did not write",
     plain_file("config.json", '{"mine": 1}'), "train --run-dir holding a foreign config.json"),
    ("train lightup/PressButton-v0 --run-dir {tmp}/results", "is a bench results folder", bench_folder),
    ("report {tmp}/results", "lightup bench --report", bench_folder),
    ("inspect {tmp}/results", "is a bench results folder", bench_folder),
    ("doctor --run {tmp}/results", "is a bench results folder", bench_folder),
    (f"{B} --seeds 1 --out {{run}}", "is a training run folder", run_copy),
    (f"{B} --seeds 1 --out {{tmp}}", "not a lightup bench's results", plain_file("notes.txt"),
     "bench --out a folder of other files"),
    (f"{B} --seeds 1 --out {{tmp}}/results", "already holds bench results", bench_folder),
    ("bench --report {run}", "is a training run folder", run_copy),
    ("doctor --static-only --out {run}", "is a run folder", run_copy),
    # the numbers of the other commands
    ("report {run} --commands 100000000", "--commands must be an integer from 1 to 1000", run_copy),
    ("report {run} --commands 0", "--commands must be", run_copy),
    ("report {run} --episodes-per-command 1000000000", "--episodes-per-command must be", run_copy),
    ("report {run} --low 100 --high 1", "--low (100) must not be above --high (1)", run_copy),
    ("report {run} --low nan", "--low must be a finite number", run_copy),
    ("report {run} --high inf", "--high must be a finite number", run_copy),
    ("report {run} --low 1000", "lowest command 1000 is above its highest", run_copy),
    ("inspect {run} --command nan", "--command must be a finite", run_copy),
    ("inspect {run} --command inf", "--command must be a finite", run_copy),
    ("inspect {run} --seed -1", "--seed must be an integer from 0", run_copy),
    (f"inspect {{run}} --seed {2**70}", "--seed must be", run_copy, "inspect --seed 2**70"),
    ("inspect {run} --max-steps 0", "--max-steps must be", run_copy),
    ("inspect {run} --episode 1000000000", "--episode must be", run_copy),
    ("watch {run} --command nan", "--command must be a finite", run_copy),
    ("watch {run} --episodes 1000000", "--episodes must be an integer from 1 to 1000", run_copy),
    ("watch {run} --fps 0", "--fps must be", run_copy),
    ("watch {run} --seed -1", "--seed must be", run_copy),
    ("play lightup/PressButton-v0 --seed -1", "--seed must be an integer"),
    (f"play lightup/PressButton-v0 --seed {2**70}", "--seed must be", None, "play --seed 2**70"),
    ("play lightup/PressButton-v0 size=100000000", "size must be an integer"),
    ("doctor --seeds 1000000", "--seeds must be an integer from 1"),
    ("doctor --lr nan", "--lr must be a finite number"),
    ("doctor --threads 100000", "--threads must be an integer from 1"),
    (f"{B} --seeds 1000000000", "--seeds must be an integer from 1 to 10000"),
    (f"{B} --eval-episodes 1000000", "--eval-episodes must be"),
    (f"{B} --budget 0", "--budget must be"),
    (f"{B} --workers 1000000", "--workers must be"),
    (f"{B} --bootstrap-reps 1000000000", "--bootstrap-reps must be"),
    (f"{B} --agents mlp --agent-seeds mlp=1000000", "--agent-seeds mlp=N must be"),
    # flags with --resume: applied where safe, else refused by name
    (f"{R} --lr nan", "--lr cannot change when resuming", run_copy),
    (f"{R} --seed 3", "--seed cannot change when resuming", run_copy),
    (f"{R} --n-envs 4", "--n-envs cannot change", run_copy),
    ("train CartPole-v1 --resume {run}", "a resumed run keeps the env it started with", run_copy),
    (f"{R} --total-steps -5", "--total-steps must be an integer from 1", run_copy),
    (f"{R} --frobnicate", "Unrecognized options: --frobnicate", run_copy),
    # crafted checkpoints: numbers, counters, replay, metadata
    (R, "--context-len must be an integer from 1 to 4096", crafted(with_config(context_len=10**7)),
     "resume: context_len 10**7"),
    (R, "--n-envs must be an integer from 1 to 1024", crafted(with_config(n_envs=10**6)), "resume: 1M envs"),
    (R, "--eval-episodes must be", crafted(with_config(eval_episodes=10**6)), "resume: 1M eval episodes"),
    (R, "counter 'steps' must be an integer from 0", crafted(with_counters(steps=-(10**6))),
     "resume: -1M steps"),
    (R, "counter 'steps' must be an integer", crafted(with_counters(steps="64")), "resume: a string counter"),
    (R, "--n-embd must be an integer", crafted(with_config(n_embd="16")), "resume: a string n_embd"),
    (R, "--lr must be a finite number", crafted(with_config(lr=float("nan"))), "resume: lr nan"),
    (R, "--seed must be", crafted(with_config(seed=2**70)), "resume: seed 2**70"),
    (R, "--env-id must be a string", crafted(with_config(env_id=5)), "resume: env_id a number"),
    (R, "nested 100000 deep", crafted(raw=DEEP), "resume: metadata 100k deep"),
    ("inspect {run}", "nested 100000 deep", crafted(raw=DEEP), "inspect: metadata 100k deep"),
    ("inspect {run}", "--n-envs must be", crafted(with_config(n_envs=10**6)), "inspect: 1M envs"),
    (R, "episode lengths go past its", crafted_tensors(set_tensor("buffer.lengths", lambda t: t * 1000)),
     "resume: replay episodes longer than its steps"),
    (R, "episode lengths are not all at least 1",
     crafted_tensors(set_tensor("buffer.lengths", lambda t: t * 0)),
     "resume: replay episodes of length 0"),
    (R, "actions go outside the env's 2 buttons",
     crafted_tensors(set_tensor("buffer.actions", lambda t: t + 10**6)),
     "resume: replay actions beyond the buttons"),
    ("inspect {run}", "not all finite",
     crafted_tensors(set_tensor("buffer.observations", lambda t: t * float("nan"))), "inspect: replay NaN"),
    (R, "exploration flags are not",
     crafted_tensors(set_tensor("buffer.explored", lambda t: t[:1].float())),
     "resume: replay exploration flags of the wrong kind"),
    (R, "commands hold 'x'",
     crafted_tensors(lambda t, m: m.__setitem__("buffer_commanded", ["x"] * len(m["buffer_commanded"]))),
     "resume: replay commands not numbers"),
    (R, "buffer.rewards missing", crafted_tensors(lambda t, m: t.pop("buffer.rewards")),
     "resume: part of a replay"),
    (R, "holds a training state this version cannot read",
     crafted_tensors(set_tensor("rng.torch", lambda t: t[:3])),
     "resume: a torch random state cut short"),
    # JSON past the caps, and files that are not files
    ("report {run} --no-follow", "nested 100000 deep", run_file("config.json", DEEP),
     "report: config.json 100k deep"),
    ("report {run} --no-follow", "nested 100000 deep", run_file("metrics.jsonl", DEEP + "\n", append=True),
     "report: a metrics line 100k deep"),
    ("report {run} --no-follow", "is longer than", run_file("metrics.jsonl", LONG_LINE, append=True),
     "report: a metrics line of 2 MB"),
    ("doctor --run {run}", "nested 100000 deep", run_file("config.json", DEEP),
     "doctor --run: config.json 100k deep"),
    ("doctor --run {run}", "nested 100000 deep", run_file("metrics.jsonl", DEEP + "\n", append=True),
     "doctor --run: a metrics line 100k deep"),
    ("bench --report {tmp}/results", "nested 100000 deep", deep_runs_line,
     "bench --report: runs.jsonl 100k deep"),
    ("bench --report {tmp}/results", "has no config.json", fifo_in_bench("config.json"),
     "bench --report: config.json a named pipe"),
    (f"{B} --agents mlp --seeds 1 --resume --out {{tmp}}/results", "is not a regular file",
     fifo_in_bench("runs.jsonl"), "bench --resume: runs.jsonl a named pipe"),
    # an env that cannot draw frames, and a file where a run folder is expected
    ("watch {run} --out {tmp}/x.gif",
     "draws no rgb_array frames (its render modes: none); a video needs an env that draws them",
     env_run("user_envs:UserCorridor-v0"), "watch: an env without rgb_array rendering"),
    ("watch {run} --out {tmp}/x.gif", "failed to draw a frame (RuntimeError: no display found); a video",
     env_run("user_envs:UserBadRender-v0"), "watch: an env whose render raises two lines"),
    ("watch {tmp}/f", "run folder '{tmp}/f' is a file, not a run folder", F),
    ("report {tmp}/f", "run folder '{tmp}/f' is a file, not a run folder", F),
    ("inspect {tmp}/f", "run folder '{tmp}/f' is a file, not a run folder", F),
    ("train --resume {tmp}/f", "run folder '{tmp}/f' is a file, not a run folder", F),
    # empty values: never the current folder or a default in disguise
    ("train lightup/PressButton-v0 --run-dir ''", "--run-dir is given an empty value"),
    ("train lightup/PressButton-v0 --run-dir= --total-steps 64", "--run-dir is given an empty value", None,
     "train --run-dir="),
    ("train ''", "an empty argument '' is given"),
    (f"{B} --seeds 1 --out ''", "--out is given an empty value"),
    ("watch ''", "an empty argument '' is given"),
    ("report {run} --out ' '", "--out is given an empty value", run_copy),
    ("play lightup/PressButton-v0 ''", "an empty argument '' is given"),
    ("doctor --static-only --out ''", "--out is given an empty value"),
    ("train --config {tmp}/c.yaml --run-dir {tmp}/new", "--run-dir must not be empty",
     plain_file("c.yaml", 'run_dir: ""\n'), "train --config: run_dir empty"),
    # env options that are lightup's own keywords
    ("train CartPole-v1 --run-dir {tmp}/new --env-options max_episode_steps=0",
     "option 'max_episode_steps' is not an env option (it is lightup's --max-episode-steps)"),
    ("play CartPole-v1 render_mode=human", "option 'render_mode' is not an env option"),
    ("bench --envs CartPole-v1,render_mode=human --seeds 1 --out {tmp}/res", "'render_mode' is not an env"),
    # a user's module that calls sys.exit() on import
    ("train user_exit_on_import:Env-v0 --run-dir {tmp}/new", "importing its module 'user_exit_on_import' "
     "failed (SystemExit: 3)"),
    ("train lightup/PressButton-v0 --run-dir {tmp}/new --policy user_exit_on_import:make",
     "importing 'user_exit_on_import' raised SystemExit: 3"),
    ("play user_exit_on_import:Env-v0", "failed (SystemExit: 3)"),
    # config files: a key twice, and modules a file names
    ("train --config {tmp}/c.yaml --run-dir {tmp}/new", "--value-select must be one of True, False",
     plain_file("c.yaml", 'value_select: "yes"\n'), "train --config: value_select a string"),
    ("train --config {tmp}/c.yaml --run-dir {tmp}/new", "gives the key 'seed' twice; give it once",
     plain_file("c.yaml", "seed: 1\nseed: 2\n"), "train --config: a YAML key twice"),
    ("train --config {tmp}/c.json --run-dir {tmp}/new", "the key 'seed' is given twice",
     plain_file("c.json", '{"seed": 1, "seed": 2}'), "train --config: a JSON key twice"),
    ("train --config {tmp}/c.yaml --run-dir {tmp}/new", "gives the key 'k' twice",
     plain_file("c.yaml", "command:\n  k: 1\n  k: 2\n"), "train --config: a nested YAML key twice"),
    ("train --config {tmp}/c.yaml --run-dir {tmp}/new",
     "names the policy factory 'user_policies:gru_factory', which lightup does not import because a file",
     plain_file("c.yaml", "env_id: lightup/PressButton-v0\npolicy: user_policies:gru_factory\n"),
     "train --config: a policy factory"),
    ("train --config {tmp}/c.yaml --run-dir {tmp}/new",
     "registered by the module 'lightup_never_imported', which lightup does not import because a file",
     plain_file("c.yaml", "env_id: lightup_never_imported:Env-v0\n"), "train --config: a module:EnvId"),
    # checkpoints whose weights or optimizer state do not fit the model
    (R, "holds model.* weights that do not fit its config (size mismatch for head.weight",
     crafted_tensors(set_tensor("model.head.weight", lambda t: t.repeat(2, 1))),
     "resume: a weight of another shape"),
    ("inspect {run}", "holds model.* weights that do not fit its config (Missing key(s) in state_dict",
     crafted_tensors(lambda t, m: t.pop("model.head.weight")), "inspect: a weight missing"),
    (R, "holds the optimizer state optim.0.exp_avg as ((5, 5), torch.float32)",
     crafted_tensors(optimizer_moment((5, 5))),
     "resume: an optimizer moment of another shape"),
    # weights that fit in shape but are not numbers a model can hold
    (R, "holds non-finite values (NaN or infinity) in the weight 'model.head.weight'",
     crafted_tensors(set_tensor("model.head.weight", lambda t: t.index_fill(1, torch.tensor([0]), math.nan))),
     "resume: a NaN weight"),
    (R, "holds the weight 'model.head.weight' as torch.int64 where the model has floating-point weights",
     crafted_tensors(set_tensor("model.head.weight", lambda t: t.round().long())), "resume: integer weights"),
    ("inspect {run}", "holds non-finite values (NaN or infinity) in the weight 'model.head.bias'",
     crafted_tensors(set_tensor("model.head.bias", lambda t: t + math.inf)), "inspect: an infinite weight"),
    # usage errors from before the catalogue (tests/test_bad_inputs.py)
    ("frobnicate", "unknown command 'frobnicate'; choose one of: games, train"),
    ("train NoSuchEnv-v0", "unknown env id 'NoSuchEnv-v0'"),
    ("train user_envs:UserUnbounded-v0", "has an unbounded Box action space; give it finite low and high"),
    *(
        (f"{T} --policy user_policies_broken:{factory}", says)
        for factory, says in (
            ("one_output", "forward gave torch.float32 of shape (2, 2, 1), not floating-point parameters"),
            ("nan_output", "forward gave NaN or inf parameters at initialisation"),
            ("integer_output", "forward gave torch.int64 of shape (2, 2, 2), not floating-point"),
            ("nothing_to_train", "the policy has no trainable parameters"),
            ("a_billion_steps_of_context", "context_len must be an integer from 1 to 4096, got 1000000000"),
            ("other_argument_names", "raised TypeError: "),
        )
    ),
    ("train user_envs:UserManyActions-v0", "has 100,000 actions, more than the 65,536 a policy is built for"),
    ("train user_envs:UserHugeObservation-v0", "gives observations of 2,097,152 values, more than the"),
    (
        "train user_envs:UserMissingDeps-v0",
        "could not be made (ModuleNotFoundError: No module named 'lightup_tests_not_installed'); install",
    ),
    ("train --n-envs x", "Error parsing --n-envs: invalid literal for int()"),
    ("train --advantage-beta x", "Error parsing --advantage-beta: could not convert string to float"),
    ("train --context-len 0", "--context-len must be an integer from 1 to 4096, got 0"),
    ("train --n-envs 0", "--n-envs must be an integer from 1 to 1024, got 0"),
    ("train --max-episode-steps 0", "--max-episode-steps must be an integer from 1 to 1_000_000, got 0"),
    ("train --no-such-flag 3", "Unrecognized options: --no-such-flag"),
    ("train --layout x", "--layout must be one of stacked, interleaved, got 'x'"),
    ("train --timestep-embedding maybe", "--timestep-embedding must be one of True, False, got"),
    ("train --value-select maybe", "--value-select must be one of True, False, got 'maybe'"),
    ("train --command.kind zz", "--command.kind must be one of fixed, best, topk, got 'zz'"),
    ("train --n-embd 30 --n-head 4", "--n-embd (30) must be divisible by --n-head (4)"),
    ("train --temperature -1", "--temperature must be a finite number >= 1e-06 and <= 100, got -1.0"),
    ("train --gamma 1.5", "--gamma must be a finite number > 0 and <= 1, got 1.5"),
    ("train --entropy-target x", "Error parsing --entropy-target: could not convert string to float"),
    ("train --greedy-envs -1", "--greedy-envs must be an integer from 0 to 1024, got -1"),
    ("train --buffer-steps 0", "--buffer-steps must be an integer from 1 to 10_000_000_000, got 0"),
    ("train --buffer-capacity 0", "--buffer-capacity must be an integer from 1 to 10_000_000, got 0"),
    ("train --value-hidden 0", "--value-hidden must be an integer from 1 to 8192, got 0"),
    ("train LunarLander-v3 --greedy-envs 9", "--greedy-envs must be from 0 to --n-envs (8)"),
    ("train lightup/PressButton-v0 --advantage-beta 0 --advantage-lambda 0.9", "needs advantage weighting"),
    ("train --advantage-baseline q", "--advantage-baseline must be one of value, policy, got 'q'"),
    ("train --optimizer-kernel adam", "--optimizer-kernel must be one of fused, foreach, got 'adam'"),
    (
        "train lightup/PressButton-v0 --advantage-beta 0 --advantage-baseline policy",
        "policy needs advantage weighting",
    ),
    ("train --return-scale 0", "--return-scale must be a finite number >= 1e-06"),
    ("train lightup/PressButton-v0 --env-options size=0", "size must be an integer from 2 to 1024"),
    ("train lightup/PressButton-v0 --env-options colour=red", "unknown option 'colour'"),
    ("train --max-env-errors 0", "--max-env-errors must be an integer from 1 to 1_000_000, got 0"),
    ("train --resume", "Missing value for argument '--resume'"),
    ("train --resume {tmp}/missing", "run folder '{tmp}/missing' not found"),
    ("train --resume {tmp}/empty", "checkpoint.safetensors' not found", old_folders),
    ("train --resume {tmp}/truncated", "is not a readable lightup checkpoint", old_folders),
    ("train --resume {tmp}/foreign", "is a safetensors file but not a lightup checkpoint", old_folders),
    ("play Pendulum-v1", "Box action space"),
    ("doctor --rungs nope", "unknown rung 'nope'; rungs: overfit-batch"),
    ("doctor --run {run} --static-only", "--static-only has no effect with it", run_copy),
    ("doctor --run {run} --out {tmp}/d", "--out has no effect with it", run_copy),
    ("doctor --frozen embed_return.weight", "--frozen names parameters of your model: give it with --policy"),
    ("doctor --agent sb3:A2C", "unknown agent 'sb3:A2C'"),
    ("doctor --policy no_such_module_xyz:make", "cannot import module 'no_such_module_xyz'"),
    ("doctor --env NoSuchEnv-v0", "unknown env id 'NoSuchEnv-v0'"),
    ("doctor --run {tmp}/empty", "holds no metrics.jsonl", old_folders),
    ("doctor --env-budget 0", "--env-budget must be an integer from 1 to 10_000_000_000, got 0"),
    ("doctor --threads 0", "--threads must be an integer from 1 to 256, got 0"),
    ("doctor --lr 2", "--lr must be a finite number > 0 and < 1, got 2.0"),
    ("bench --agents nope", "unknown agent 'nope'"),
    ("bench --agent-seeds sb3-ppo=x", "--agent-seeds 'sb3-ppo=x' must look like AGENT=N with N >= 1"),
    ("bench --agent-seeds nope=3", "--agent-seeds 'nope=3' must look like AGENT=N"),
    ("bench --envs NoSuchEnv-v0", "unknown env id 'NoSuchEnv-v0'"),
    ("bench --suite continuous --envs CartPole-v1", "--envs 'CartPole-v1' is not in suite continuous"),
    ("bench --seeds abc", "Error parsing --seeds"),
    ("report {tmp}/missing", "run folder '{tmp}/missing' not found"),
    ("inspect {tmp}/empty", "has no checkpoint.safetensors yet", old_folders),
    ("inspect {tmp}/foreign", "is a safetensors file but not a lightup checkpoint", old_folders),
    ("watch {tmp}/missing", "run folder '{tmp}/missing' not found"),
]
# fmt: on
if os.geteuid() != 0:  # root writes in a read-only folder: there /proc stands for the unwritable place
    ROWS += [
        ("train lightup/PressButton-v0 --run-dir {tmp}/ro/run", "'{tmp}/ro' is not writable", read_only),
        ("report {run} --out {tmp}/ro/r.html", "'{tmp}/ro' is not writable", both(run_copy, read_only)),
        (f"{B} --seeds 1 --out {{tmp}}/ro/res", "'{tmp}/ro' is not writable", read_only),
    ]


def _case(argv: str, says: str, setup: Setup | None = None, name: str | None = None) -> Case:
    words = tuple(shlex.split(argv))
    return Case(name or " ".join(words).replace("{tmp}/new", "NEW"), words, 2, says, setup)


CASES: list[Case] = [_case(*row) for row in ROWS]
