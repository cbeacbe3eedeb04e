"""User mistakes on the command line: exit code 2 and one line on stderr that says what is valid."""

import pytest

from lightup import cli
from lightup.envs import GAME_IDS


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["play", "Nope-v0"], ["unknown env id 'Nope-v0'", *GAME_IDS, "CartPole-v1"]),
        (["play", "lightup/PressButton-v0", "size=0"], ["size must be an integer from 2 to 1024, got 0"]),
        (
            ["play", "lightup/RecallButton-v0", "delay=-1"],
            ["delay must be an integer from 0 to 1021, got -1"],
        ),
        (
            ["play", "lightup/PressButton-v0", "foo=1"],
            ["unknown option 'foo'", "valid options: size, game_length, hard_mode, fixed_light, end_on_miss"],
        ),
        (["play", "lightup/PressButton-v0", "hard_mode=maybe"], ["hard_mode must be true or false"]),
        (["play", "lightup/PressButton-v0", "size4"], ["must look like name=value"]),
        (
            ["play", "lightup/PressButton-v0", "--seed", "x"],
            ["Error parsing --seed", "'x'", "(see `lightup play --help`)"],
        ),
        (["play"], ["Missing from lightup play: ENV_ID", "(required)"]),
        (["play", "Pendulum-v1"], ["Box action space"]),
    ],
)
def test_user_errors_print_one_line_and_exit_2(capsys, argv, expected):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    for text in expected:
        assert text in lines[0]
