"""Tests of backtests/signals."""
