"""``lightup play`` driven through stdin: a person's presses, typos, quitting."""

import io
import subprocess
import sys

import pytest

from lightup.envs import make_env
from lightup.envs.play import main
from lightup.envs.scripted import optimal_agent
from lightup.errors import LightupError

PROMPT = "press (0-3, q to quit): "


def _play(monkeypatch, capsys, argv, lines):
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    code = main(argv)
    return code, capsys.readouterr().out


def _right_presses(seed, **options):
    """The presses a perfect player makes in the first episode of `lightup play ... --seed seed`."""
    env = make_env("lightup/PressButton-v0", **options)
    agent = optimal_agent(env)
    obs, _ = env.reset(seed=seed)
    presses, done = [], False
    while not done:
        presses.append(agent.act(obs))
        obs, _, terminated, truncated, _ = env.step(presses[-1])
        done = terminated or truncated
    return presses


@pytest.mark.parametrize("hard_mode", [False, True])
def test_full_game_with_right_presses_shows_rewards_and_total(monkeypatch, capsys, hard_mode):
    options = {"size": 4, "game_length": 3, "hard_mode": hard_mode}
    argv = ["lightup/PressButton-v0", "size=4", "game_length=3", f"hard_mode={hard_mode}", "--seed", "5"]
    code, out = _play(monkeypatch, capsys, argv, [*_right_presses(5, **options), "q"])
    assert code == 0
    assert out.startswith("episode 1: button ")
    for total in (1, 2, 3):
        assert f"reward +1, total {total}\n" in out
    assert "episode return: 3\n" in out
    assert "episode 2: button " in out  # a new episode starts
    assert out.count(PROMPT) == 4


def test_bad_presses_explain_and_prompt_again(monkeypatch, capsys):
    code, out = _play(monkeypatch, capsys, ["lightup/PressButton-v0", "size=4"], ["x", "7", "-1", "", "q"])
    assert code == 0
    for bad in ("'x'", "'7'", "'-1'", "''"):
        assert f"not a button: {bad}; type a number from 0 to 3, or q\n" in out
    assert out.count(PROMPT) == 5
    assert "reward" not in out and "Traceback" not in out


def test_wrong_press_scores_zero(monkeypatch, capsys):
    right = _right_presses(0, size=4)[0]
    code, out = _play(
        monkeypatch, capsys, ["lightup/PressButton-v0", "size=4", "--seed", "0"], [(right + 1) % 4]
    )
    assert code == 0
    assert "reward +0, total 0\nepisode return: 0\n" in out


def test_end_of_input_quits_cleanly(monkeypatch, capsys):
    code, out = _play(monkeypatch, capsys, ["lightup/RecallButton-v0", "size=4"], [])
    assert code == 0
    assert "remember it" in out


def test_gymnasium_env_shows_observation_numbers(monkeypatch, capsys):
    code, out = _play(monkeypatch, capsys, ["CartPole-v1", "--seed", "0"], ["1", "0", "q"])
    assert code == 0
    assert out.count("observation: [") == 3
    assert "reward +1, total 2\n" in out


def test_continuous_actions_are_refused():
    with pytest.raises(LightupError, match="Box action space; play needs a Discrete one"):
        main(["Pendulum-v1"])


def test_play_through_the_real_command():
    result = subprocess.run(
        [sys.executable, "-m", "lightup.cli", "play", "lightup/Gamble-v0", "--seed", "0"],
        input="2\nq\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "reward +1, total 1\nepisode return: 1\n" in result.stdout
    assert result.stderr == ""
