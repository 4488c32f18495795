"""One backtest run: prices in, Cerebro assembled with costs and recorders, strategy and baselines run, outputs out."""
