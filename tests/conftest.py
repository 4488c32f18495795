"""Test-wide settings: nothing may reach the Hugging Face hub (models load from local packages only)."""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
