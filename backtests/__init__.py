"""Orchestration: run configuration, Cerebro assembly, walk-forward runs, reports and the command line."""
