"""Tests of backtests/report."""
