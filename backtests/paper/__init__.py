"""Paper trading: the session that runs the backtest's strategy on live bars and news, and its durable journal."""
