"""The command line a person meets: -h, --version, examples and defaults everywhere; errors that name their flag;
no torch for --help or a baseline run; Ctrl-C that exits 130 with one line and leaves no half-written run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from backtests.cli import models, news, report, run, train, train_sentiment

ROOT = Path(__file__).resolve().parents[3]
ENTRY_POINTS = {"bt-run": run.main, "bt-report": report.main, "bt-models": models.main, "bt-train": train.main,
                "bt-news": news.main}


def _commands() -> list[tuple[str, list[str], click.Command]]:
    out = []
    for name, cmd in ENTRY_POINTS.items():
        out.append((name, [], cmd))
        if isinstance(cmd, click.Group):
            out.extend((name, [sub], cmd.commands[sub]) for sub in cmd.commands)
    return out


@pytest.mark.parametrize(("entry", "path", "cmd"), _commands(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_command_has_short_help_examples_and_defaults(entry: str, path: list[str], cmd: click.Command) -> None:
    result = CliRunner().invoke(ENTRY_POINTS[entry], [*path, "-h"])
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.output, f"{entry} {path}: no examples"
    text = " ".join(result.output.split())  # help lines re-joined: a default may wrap onto the next line
    options = [p for p in cmd.params if isinstance(p, click.Option) and not p.hidden and p.help]
    for i, param in enumerate(options):
        if param.is_flag or not isinstance(param.default, (str, int, float, Path)):  # flags, no default (UNSET)
            continue
        start = text.index(param.opts[-1] if param.opts[-1].startswith("--") else param.opts[0])
        after = [text.find(o.opts[0], start + 1) for o in options[i + 1:]]
        end = min([a for a in after if a > start] or [len(text)])
        assert "[default:" in text[start:end], f"{entry} {path} {param.name}: {text[start:end]}"


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_version(entry: str) -> None:
    result = CliRunner().invoke(ENTRY_POINTS[entry], ["--version"])
    assert result.exit_code == 0 and "bt-hybrid, version" in result.output


def test_help_mirrors_match_their_sources() -> None:
    from backtests.presets.config import DATA_SOURCES
    from feeds.news.archive import ARCHIVE_ENV, LOCK_WAIT_S
    from feeds.news.importer import COLUMNS
    from ml.export import FORMATS
    from ml.sentiment.embeddings import DEFAULT_ENCODER
    from ml.sentiment.finetune import FineTuneConfig
    from ml.sentiment.model import DEFAULT_ROUTING, ROUTINGS
    from ml.sentiment.train import DEFAULT_CACHE
    from ml.train_config import DEVICE_CHOICES
    from strategies.registry import STRATEGIES

    assert run.STRATEGY_NAMES == tuple(STRATEGIES)
    assert run.DEVICE_NAMES == tuple(DEVICE_CHOICES) and run.DATA_NAMES == tuple(DATA_SOURCES)
    assert models.EXPORT_FORMATS == tuple(FORMATS) and news.LOCK_WAIT_S == LOCK_WAIT_S
    assert (news.ARCHIVE_ENV, news.IMPORT_COLUMNS, news.DEFAULT_ENCODER) == (ARCHIVE_ENV, tuple(COLUMNS), DEFAULT_ENCODER)
    assert train_sentiment.DEFAULT_ROUTING == DEFAULT_ROUTING and train_sentiment.ROUTING_NAMES == tuple(ROUTINGS)
    assert train_sentiment.DEFAULT_CACHE == DEFAULT_CACHE and FineTuneConfig().quantize is True


def _python(code: str, *args: str, **kw) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=300, **kw)


@pytest.mark.parametrize("entry", ["run", "report", "models", "train", "news"])
def test_help_imports_no_torch_and_no_pandas(entry: str) -> None:
    code = (f"import sys\nfrom backtests.cli.{entry} import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n"
            "    pass\nprint('torch' in sys.modules, 'pandas' in sys.modules)")
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False False"


@pytest.mark.slow
def test_buyhold_run_never_imports_torch(tmp_path: Path) -> None:
    code = ("import sys\nfrom backtests.cli.run import main\ntry:\n    main()\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\nprint('torch' in sys.modules)")
    result = _python(code, "--strategy", "buyhold", "--from", "2020", "--to", "2020-12-31", "--data", "bundled",
                     "--reports-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2022", "--to", "2020"], "(at --to)"),
        (["--set", "sma.fast=ten"], "(at --set sma.fast)"),
        (["--cash", "-100"], "(at --cash)"),
        (["--device", "tpu"], "(at --device)"),
        (["--set", "sma.fsat=10"], "did you mean 'sma.fast'"),
        (["--strategy"], "requires an argument"),
        (["--bogus"], "No such option"),
    ],
)
def test_run_errors_name_their_flag(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(run.main, ["--data", "bundled", "--reports-dir", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert "default.toml" not in result.output
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args", [["show", "/tmp/doesnotexist-bt"], ["show", "nosuchrun"], ["show", "../.."],
                                  ["compare", "a"], ["compare", "nosuch1", "nosuch2"]])
def test_report_errors_are_one_line_exit_2(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(report.main, [*args, "--reports-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert len([ln for ln in result.output.splitlines() if ln.strip()]) == 1 and "Traceback" not in result.output


def test_report_show_bad_path_in_a_real_process() -> None:
    result = _python("from backtests.cli.report import main; main()", "show", "/tmp/doesnotexist")
    assert result.returncode == 2 and result.stderr.startswith("Error: no such folder") and result.stdout == ""
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.3, 1.5, 3.0, 5.0, 8.0])
def test_ctrl_c_at_any_moment_exits_130_and_leaves_no_partial_run(delay: float, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from backtests.cli.run import main; main()", "--strategy", "sma", "--from", "2000",
         "--data", "bundled", "--reports-dir", str(reports)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:  # the run finished before the signal: it must be whole
        runs = list(reports.iterdir())
        assert len(runs) == 1 and (runs[0] / "report.html").is_file()
        return
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("Interrupted")
    assert not reports.exists() or list(reports.iterdir()) == []


def test_list_shows_runs_with_strategy_period_and_headline(tmp_path: Path) -> None:
    from backtests.report.folder import RunFolder

    for strategy in ("sma", "buyhold"):
        folder = RunFolder(tmp_path, f"20240101-000000-{strategy}-abcdef")
        folder.write_json("metrics.json", {"run_id": folder.run_id, "strategy": strategy, "metrics": {
            strategy: {"total_return": 0.25, "sharpe": 1.2, "max_drawdown": -0.1, "trades": 3.0}}})
        folder.write_json("run.json", {"data": {"NVDA": {"source": "bundled"}}, "model_versions": []})
        folder.write_text("config.toml", f'[run]\nstrategy = "{strategy}"\nsymbols = ["NVDA"]\n')
        folder.write_text("equity.csv", f"date,{strategy}\n2024-01-02,100\n2024-01-03,125\n")
        folder.commit()
    (tmp_path / ".partial-20240101-000000-sma-abcdef-0000").mkdir()  # never listed
    result = CliRunner().invoke(report.main, ["list", "--reports-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 4 and "STRATEGY" in lines[0]
    assert "2024-01-02..2024-01-03" in lines[2] and "25.00%" in lines[2] and lines[2].rstrip().endswith("3")
    assert "None" not in result.output


def test_run_json_is_json(tmp_path: Path) -> None:
    from backtests.report.folder import RunFolder

    folder = RunFolder(tmp_path, "20240101-000000-sma-abcdef")
    folder.write_json("x.json", {"a": float("nan")})
    assert json.loads((folder.path / "x.json").read_text()) == {"a": None}
