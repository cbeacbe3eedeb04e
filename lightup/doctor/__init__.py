"""`lightup doctor`: find where a learning agent is broken, automatically.

- `checks`: static checks of the `SequencePolicy` contract and the trainer pieces (seconds, no env), by
  concern in `checks_outputs`, `checks_inputs`, `checks_cache` and `checks_training`, on the shared pieces
  of `check_base`; each verdict with its measured quantity and margin against `limits`;
- `ladder`: rungs of increasing difficulty, climbed until one fails, with a differential diagnosis
  against the reference MLP;
- `alarms`: what looks wrong in a run's metrics, what it usually means, and where to look;
- `subjects`: our Decision Transformer, the reference, or a user's factory loaded by import path;
- `cli`: the command and its report (terminal table, doctor.json, doctor.html).
"""
