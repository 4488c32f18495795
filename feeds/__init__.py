"""Data in: prices (yfinance, CSV, bundled demo data), news (RSS, imports) and their local stores."""
