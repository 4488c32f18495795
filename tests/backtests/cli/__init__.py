"""Tests of backtests/cli."""
