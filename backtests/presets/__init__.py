"""Run configuration: TOML presets (default, adr) overridden by flags, validated once into frozen dataclasses."""
