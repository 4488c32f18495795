"""The run configuration: a TOML preset in backtests/ overridden by CLI flags, validated once into frozen dataclasses."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

from ground.choices import suggest
from ground.config import from_mapping, set_dotted
from ground.errors import ConfigError
from ml.fusion import FusionConfig
from ml.gm.config import GMEnsembleConfig
from ml.gm.walkforward import WalkForwardConfig
from ml.sentiment.aggregate import AggregationConfig
from strategies.registry import STRATEGIES
from strategies.sizer import SizerConfig

PRESET_DIR = Path(__file__).resolve().parent
DATA_SOURCES = ("auto", "cache", "yfinance", "bundled", "csv")


@dataclass(frozen=True)
class RunSection:
    """What to run: strategy, symbols, dates and where data and outputs live."""

    strategy: str = "buyhold"
    symbols: tuple[str, ...] = ("NVDA",)
    start: date | None = None
    end: date | None = None
    data: str = "auto"
    csv: tuple[str, ...] = ()
    offline: bool = False
    cash: float = 100_000.0
    device: str = "auto"
    seed: int = 7
    reports_dir: str = "reports"
    models_dir: str = "models_saved"

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ValueError("symbols must name at least one symbol")
        if self.data not in DATA_SOURCES:
            raise ValueError(f"data must be one of {', '.join(DATA_SOURCES)}, got {self.data!r}")
        if self.data == "csv" and len(self.csv) != len(self.symbols):
            raise ValueError("data = 'csv' needs one csv path per symbol")
        if self.cash <= 0:
            raise ValueError(f"cash must be positive, got {self.cash}")
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        if self.device not in ("auto", "cpu", "cuda", "mps"):
            raise ValueError(f"device must be auto, cpu, cuda or mps, got {self.device!r}")


@dataclass(frozen=True)
class CostSection:
    """Execution costs in basis points of traded value; orders fill at the next bar's open."""

    commission_bps: float = 5.0
    slippage_bps: float = 5.0
    invest_fraction: float = 0.98

    def __post_init__(self) -> None:
        if not 0 <= self.commission_bps < 1000 or not 0 <= self.slippage_bps < 1000:
            raise ValueError("commission_bps and slippage_bps must be in [0, 1000)")
        if not 0 < self.invest_fraction <= 1:
            raise ValueError(f"invest_fraction must be in (0, 1], got {self.invest_fraction}")


@dataclass(frozen=True)
class SmaSection:
    """The SMA crossover baseline: long when the fast mean is above the slow one."""

    fast: int = 20
    slow: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise ValueError(f"need 1 <= fast < slow, got fast={self.fast}, slow={self.slow}")


@dataclass(frozen=True)
class ReportSection:
    """What the report includes: baselines run beside the strategy, and the leakage audit of ML runs."""

    html: bool = True
    baselines: tuple[str, ...] = ()
    leakage_audit: bool = True

    def __post_init__(self) -> None:
        for name in self.baselines:
            spec = STRATEGIES.get(name)
            if spec is None or spec.signals is not None:
                baselines = [n for n, s in STRATEGIES.items() if s.signals is None]
                hint = suggest(name, baselines) or f"choose from {', '.join(baselines)}"
                raise ValueError(f"baseline '{name}' is not a price-only strategy ({hint})")


@dataclass(frozen=True)
class SentimentSection:
    """Where news comes from and how it is scored and aggregated per bar (see ml.sentiment.aggregate)."""

    archive: str = ""  # "" : the default archive (BT_HYBRID_NEWS_DB or ~/.local/share/bt-hybrid/news.sqlite)
    model: str = "sentiment"
    version: str = "latest"
    cutoff: str = "16:00"  # exchange time; news published after it counts for the next bar
    timezone: str = "America/New_York"
    half_life: float = 24.0
    half_life_unit: str = "hours"

    def __post_init__(self) -> None:
        hours, _, minutes = self.cutoff.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise ValueError(f"cutoff must be HH:MM, got {self.cutoff!r}")
        self.aggregation()  # an unknown time zone or half-life unit fails here, before any training

    def aggregation(self) -> AggregationConfig:
        """These settings as the point-in-time aggregator's configuration."""
        hours, minutes = (int(x) for x in self.cutoff.split(":"))
        return AggregationConfig(cutoff=time(hours, minutes), timezone=self.timezone, half_life=self.half_life,
                                 half_life_unit=self.half_life_unit)


@dataclass(frozen=True)
class SignalSection:
    """How the signal strategy trades its targets."""

    rebalance_band: float = 0.2  # skip same-side resizes smaller than this share of portfolio value (limits churn)

    def __post_init__(self) -> None:
        if not 0 <= self.rebalance_band < 1:
            raise ValueError(f"rebalance_band must be in [0, 1), got {self.rebalance_band}")


@dataclass(frozen=True)
class RunConfig:
    """The whole resolved configuration of one run; written to the run folder as config.toml."""

    run: RunSection = field(default_factory=RunSection)
    costs: CostSection = field(default_factory=CostSection)
    sma: SmaSection = field(default_factory=SmaSection)
    report: ReportSection = field(default_factory=ReportSection)
    walkforward: WalkForwardConfig = field(default_factory=WalkForwardConfig)
    gm: GMEnsembleConfig = field(default_factory=GMEnsembleConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    sizer: SizerConfig = field(default_factory=SizerConfig)
    sentiment: SentimentSection = field(default_factory=SentimentSection)
    signals: SignalSection = field(default_factory=SignalSection)


def preset_path(name_or_path: str | Path) -> Path:
    """A preset by name (``default``, ``adr``) in backtests/, or a path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = PRESET_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        presets = sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
        raise ConfigError(f"config file not found: {path}", fix=f"presets: {', '.join(presets)}")
    return path


def load_config(source: str | Path = "default", overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a TOML preset, apply dotted-key overrides (CLI flags), validate everything once."""
    path = preset_path(source)
    try:
        mapping = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", str(path)) from None
    for key, value in (overrides or {}).items():
        set_dotted(mapping, key, value)
    return from_mapping(RunConfig, mapping, str(path))
