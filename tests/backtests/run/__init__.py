"""Tests of backtests/run."""
