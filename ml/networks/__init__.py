"""Forecasting networks of the GM ensemble, one per file, and their registry."""
