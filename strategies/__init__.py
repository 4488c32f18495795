"""Backtrader strategies and sizers. They read signal lines; they train nothing."""
