"""Tests of backtests/presets."""
