"""Progress on stderr: plain lines with count, elapsed and ETA when stderr is not a terminal; a log-driven display
that labels the leakage audit's re-run; epoch lines only with -v; library debug output quiet."""
from __future__ import annotations

import io
import logging

import pytest

from backtests.cli.common import setup_logging
from backtests.cli.progress import LogProgress, Progress


def test_plain_lines_have_count_elapsed_and_eta() -> None:
    out = io.StringIO()
    progress = Progress("walk-forward", unit="fold", stream=out)
    progress(1, 4, "fold 1/4 val mse 0.1")
    progress(2, 4, "fold 2/4")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("walk-forward 1/4 (25%) elapsed 0:00 eta 0:00: fold 1/4")
    assert lines[1].startswith("walk-forward 2/4 (50%)")


def test_bar_on_a_terminal_uses_tqdm() -> None:
    out = io.StringIO()
    progress = Progress("export", total=3, unit="file", stream=out, bar=True)
    progress.step("tsmixer onnx")
    progress.close()
    assert "1/3" in out.getvalue() and "export" in out.getvalue()


def test_log_progress_labels_the_leakage_audit() -> None:
    out = io.StringIO()
    runner, producer = logging.getLogger("ml.gm.runner"), logging.getLogger("backtests.signals.producer")
    runner.setLevel(logging.INFO)
    producer.setLevel(logging.INFO)
    with LogProgress("ml.gm.runner", "walk-forward", unit="fold", restart=r"^walk-forward schedule",
                     phase_logger=producer.name,
                     phases={"walk-forward GM training": "walk-forward", "leakage audit": "leakage audit (re-run)"},
                     stream=out, bar=False):
        producer.info("NVDA: walk-forward GM training, test 2020-01-02..2020-12-31")
        runner.info("walk-forward schedule, 2 folds:\n...")
        runner.info("%s (%s)", "fold 1/2 test 2020-01-02..2020-06-30", "tsmixer 3 ep")
        runner.info("%s (%s)", "fold 2/2 test 2020-07-01..2020-12-31", "tsmixer 3 ep")
        producer.info("NVDA: leakage audit: re-running the last fold on prices truncated at its middle")
        runner.info("walk-forward schedule, 1 folds:\n...")
        runner.info("%s (%s)", "fold 1/1 test 2020-07-01..2020-09-30", "tsmixer 3 ep")
        runner.warning("a warning still prints")
    lines = out.getvalue().splitlines()
    assert [ln.split(":")[0].rsplit(" elapsed", 1)[0] for ln in lines] == [
        "walk-forward 1/2 (50%)", "walk-forward 2/2 (100%)", "leakage audit (re-run) 1/1 (100%)"]
    assert runner.propagate and not runner.handlers  # restored


@pytest.fixture
def fresh_root():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield root
    root.handlers[:], root.level = saved


def test_epoch_lines_only_with_verbose_and_libraries_quiet(fresh_root, capsys) -> None:
    trainer = logging.getLogger("ml.trainer")
    for verbose in (False, True):
        setup_logging(verbose)
        trainer.info("%s epoch %d/%d train %.5f", "TSMixer", 1, 10, 0.1)
        trainer.info("%s early stop at epoch %d", "TSMixer", 4)
        logging.getLogger("matplotlib.font_manager").debug("findfont: Matching sans-serif")
        logging.getLogger("ml.gm.runner").info("fold 1/3")
        err = capsys.readouterr().err
        assert ("epoch 1/10" in err) is verbose and "findfont" not in err and "fold 1/3" in err
