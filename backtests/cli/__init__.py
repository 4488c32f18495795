"""The click command line: one entry point per verb group."""
