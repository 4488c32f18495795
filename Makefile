# Two set-up commands: `make run` and `make test`. Both create .venv when missing and reinstall only when
# pyproject.toml or TORCH_SPEC changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test lint install bench clean-venv FORCE

install: $(STAMP)

# Reinstall when the torch spec differs from the one installed last time.
$(VENV)/.torch-spec: FORCE
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if [ "$$(cat $@ 2>/dev/null)" != "$(TORCH_SPEC)" ]; then echo "$(TORCH_SPEC)" > $@; fi

$(STAMP): pyproject.toml $(VENV)/.torch-spec
	$(BIN)/pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev,export]" "$(TORCH_SPEC)"
	@touch $@

run: $(STAMP)
	@test -n "$$(ls -A models_saved/LLM/sentiment 2>/dev/null)" || $(BIN)/bt-train sentiment
	$(BIN)/bt-run --strategy hybrid --from 2020

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The layers (import-linter contracts in pyproject.toml) and the types (mypy, strict on ground, feeds, strategies).
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/mypy

# Benchmarks need the peers (neuralforecast, VADER, SnowNLP); the torch spec is passed along so pip keeps it.
bench: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[bench]" "$(TORCH_SPEC)"
	$(BIN)/python bench/backtest_speed.py
	$(BIN)/python bench/e2e.py
	$(BIN)/python bench/sentiment_eval.py
	$(BIN)/python bench/train_speed.py
	$(BIN)/python bench/forecast_ett.py
	$(BIN)/python bench/informer_complexity.py

clean-venv:
	rm -rf $(VENV)
