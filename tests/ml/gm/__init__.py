"""Tests of the GM pipeline."""
