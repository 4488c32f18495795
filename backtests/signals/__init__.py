"""Signal producers for the ML strategies: walk-forward GM forecasts, point-in-time news sentiment, their fusion."""
