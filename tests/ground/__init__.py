"""Tests of the ground floor package."""
