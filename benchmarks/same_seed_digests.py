"""Weights and metrics digests of four small same-seed runs: run it on two commits to check that a refactor
leaves training bit-identical (same digests) on this machine.

    python benchmarks/same_seed_digests.py > after.json   # then on the other commit, and diff the two

Each case trains 768 env steps with the tests' tiny config (seed 0): the DT and the MLP on PressButton, and
CartPole with advantage weighting (checkpoints every 256 steps, which reset the rollout envs) and with weight
averaging, the policy baseline, entropy at commands and stopping at the threshold. The metrics digest leaves
out timings and the doctor's alarms (which `lightup train` adds as a callback).
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from tiny import tiny_config  # noqa: E402

from lightup.bench.runs import weights_digest  # noqa: E402
from lightup.training.logger import read_metrics  # noqa: E402
from lightup.training.trainer import Trainer  # noqa: E402

CASES = {
    "press_dt": dict(),
    "press_mlp": dict(policy="mlp"),
    "cart_adv": dict(env_id="CartPole-v1", advantage_beta=1.0, checkpoint_every=256),
    "cart_ema": dict(
        env_id="CartPole-v1",
        ema=0.9,
        entropy_at="commands",
        advantage_beta=1.0,
        advantage_baseline="policy",
        stop_at_threshold=True,
    ),
}


def main() -> None:
    out = {}
    for name, fields in CASES.items():
        fields = dict(fields)
        env_id = fields.pop("env_id", "lightup/PressButton-v0")
        trainer = Trainer(tiny_config(Path(tempfile.mkdtemp()) / "run", env_id, **fields)).learn(768)
        records = [
            {k: v for k, v in r.items() if not k.startswith(("time/", "alarm/"))}
            for r in read_metrics(trainer.run_dir)
        ]
        records = [r for r in records if len(r) > 1]
        metrics = hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()[:12]
        out[name] = {"weights": weights_digest(trainer.policy), "steps": trainer.steps, "metrics": metrics}
        trainer.close()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
