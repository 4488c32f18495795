"""The ground floor below every package: error types, the "did you mean" helper, the config loader, provenance and
the language detector. It imports nothing of ours (ADR 0009)."""
