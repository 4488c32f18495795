"""The trial ledger and the Deflated Sharpe Ratio that counts it: recording, overlap rules, imports, and the
simulation that shows deflation works on pure noise."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from backtests.report import metrics as m
from backtests.report.trials import Trial, TrialLedger, config_hash, return_moments
from ground.errors import DataError, UserInputError


def _trial(run: str, cfg: str, sharpe: float, symbols: str = "NVDA", start: str = "2020-01-02",
           end: str = "2024-12-31") -> Trial:
    return Trial(run, "hybrid", symbols, start, end, cfg, sharpe, 0.0, 3.0, 1000)


def test_ledger_counts_distinct_configs_on_overlapping_symbols_and_periods(tmp_path: Path) -> None:
    ledger = TrialLedger(tmp_path / "trials.sqlite")
    assert ledger.record([_trial("r1", "a", 0.01), _trial("r2", "a", 0.03), _trial("r3", "b", 0.02),
                          _trial("r4", "c", 0.05, symbols="AAPL"), _trial("r5", "d", 0.04, start="2010-01-04",
                                                                          end="2015-12-31"),
                          _trial("r6", "e", 0.00, symbols="AAPL,NVDA")]) == 6
    assert ledger.record([_trial("r1", "a", 0.9)]) == 0  # (run, strategy) already there: kept as it was
    count = ledger.count(["NVDA"], "2022-01-03", "2025-06-30")
    assert count.n_configs == 3  # a (latest run counts once), b, e; AAPL-only and 2010-2015 do not overlap
    assert sorted(count.sharpes) == [0.0, 0.02, 0.03]
    assert count.sharpe_var == pytest.approx(np.var([0.03, 0.02, 0.0], ddof=1))
    assert "N = 3 distinct configurations" in count.text() and "3 from local" in count.text()
    with sqlite3.connect(tmp_path / "trials.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_import_adds_trials_made_elsewhere_and_bad_files_are_one_error(tmp_path: Path) -> None:
    ledger = TrialLedger(tmp_path / "trials.sqlite")
    good = tmp_path / "notebook.csv"
    good.write_text("run_id,strategy,symbols,start,end,config_hash,sharpe,skew,kurtosis,n\n"
                    "nb1,hybrid,NVDA,2020-01-02,2025-02-14,x1,0.04,0.1,4.0,1283\n")
    assert ledger.import_file(good) == 1
    assert ledger.all()[0].source == "notebook.csv"
    bad = tmp_path / "bad.csv"
    bad.write_text("run_id,strategy\nx,y\n")
    with pytest.raises(UserInputError, match="lacks columns"):
        ledger.import_file(bad)
    bad.write_text(good.read_text().replace("0.04", "high"))
    with pytest.raises(UserInputError, match="line 2"):
        ledger.import_file(bad)
    with pytest.raises(UserInputError, match="cannot read"):
        ledger.import_file(tmp_path / "missing.csv")
    assert len(ledger.all()) == 1  # nothing already stored was lost


def test_unreadable_ledger_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "trials.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(DataError, match="unreadable"):
        TrialLedger(path).all()


def test_config_hash_ignores_output_folders() -> None:
    base = {"run.strategy": "hybrid", "run.reports_dir": "reports", "gm.size": "tiny"}
    assert config_hash(base) == config_hash({**base, "run.reports_dir": "elsewhere"})
    assert config_hash(base) != config_hash({**base, "gm.size": "small"})


def test_return_moments_match_the_metrics_module() -> None:
    r = np.random.default_rng(0).normal(0.001, 0.02, 500)
    sr, skew, kurt, n = return_moments(r)
    z = (r - r.mean()) / r.std()
    assert sr == pytest.approx(m.per_period_sharpe(r)) and n == 500
    assert skew == pytest.approx(float((z**3).mean())) and kurt == pytest.approx(float((z**4).mean()))


def test_a_strategy_that_never_invested_is_a_trial_with_zero_sharpe() -> None:
    assert return_moments(np.zeros(100)) == (0.0, 0.0, 3.0, 100)
    assert np.isnan(return_moments(np.full(100, 0.001))[0])


def test_deflated_sharpe_deflates_the_best_of_100_noise_strategies() -> None:
    """Best of 100 zero-mean strategies, 400 repetitions: plain PSR of the best clears 0.95 almost always, the DSR
    (N = 100, the trials' own Sharpe variance) rarely: at most about the 5% a 0.95 threshold allows."""
    rng = np.random.default_rng(11)
    reps, trials, bars = 400, 100, 250
    r = rng.standard_normal((reps, trials, bars), dtype=np.float32)  # [R, N, T]
    mean, sd = r.mean(axis=2), r.std(axis=2, ddof=1)
    sr = mean / sd  # [R, N]
    best = sr.argmax(axis=1)
    x = r[np.arange(reps), best]  # [R, T]: the best strategy's returns in each repetition
    z = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    skew, kurt = (z**3).mean(axis=1), (z**4).mean(axis=1)
    sr_best = sr[np.arange(reps), best]
    psr = m.psr_from_moments(sr_best, bars, skew, kurt, 0.0)
    sr0 = np.array([m.expected_max_sharpe_of(trials, float(np.var(row, ddof=1))) for row in sr])
    dsr = m.psr_from_moments(sr_best, bars, skew, kurt, sr0)
    psr_rate, dsr_rate = float((psr > 0.95).mean()), float((dsr > 0.95).mean())
    assert psr_rate > 0.9
    assert dsr_rate <= 0.07
    # the same figure through the single-series function
    i = 0
    assert m.deflated_sharpe_of(x[i].astype(float), trials, float(np.var(sr[i], ddof=1))) == pytest.approx(
        float(dsr[i]), abs=0.02)
