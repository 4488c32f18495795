"""News sentiment: frozen text encoders with a trained MLP head, an n-gram MLP fallback, and point-in-time
aggregation of scored news into one score, confidence and count per symbol and bar."""
