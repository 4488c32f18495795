"""Models: features and windows, forecasting networks, the GM ensemble, sentiment, fusion, training, registry."""
