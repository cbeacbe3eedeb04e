"""The online trainer: rollouts, replay, commands, updates."""
