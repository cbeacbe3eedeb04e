"""Benchmarks against the peers: agents x envs x seeds, run on a local pool or Ray, with rliable statistics.

``lightup bench`` (``lightup.bench.cli``); a run is ``runs.run_job(Job)``; SB3 peers in ``sb3`` with the RL
Zoo's hyperparameters (``zoo``); statistics in ``stats``; the results folder written by ``report``.
"""
