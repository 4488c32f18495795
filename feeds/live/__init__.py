"""Live prices for paper trading: exchange sessions, a polled bar source, the poller and its backtrader feed."""
