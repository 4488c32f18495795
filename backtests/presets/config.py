"""The run configuration: a TOML preset overridden by flags and ``--set``, validated once into frozen dataclasses.

Each section's defaults are written once, in its dataclass: the presets only say what differs or what a reader
should see. Strategy parameter sections belong to the strategies' own dataclasses (``strategies.registry``); a test
checks that every registered section is a field here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time
from pathlib import Path
from typing import Any

from ground.choices import choice_hint
from ground.config import Origins, from_mapping, load_toml, set_dotted
from ground.errors import ConfigError, InvalidValue
from ml.fusion import FusionConfig
from ml.gm.config import GMEnsembleConfig
from ml.gm.walkforward import WalkForwardConfig
from ml.sentiment.aggregate import AggregationConfig
from ml.train_config import DEVICE_CHOICES
from strategies.baselines import BuyHoldParams, SmaParams
from strategies.exposure import ExposureParams
from strategies.registry import STRATEGIES
from strategies.signal_strategy import SignalParams
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
    accept_jumps: bool = False  # serve one-day close moves past the validator's threshold (recorded in run.json)
    cash: float = 100_000.0
    device: str = "auto"
    seed: int = 7
    reports_dir: str = "reports"
    models_dir: str = "models_saved"

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise InvalidValue("strategy", f"unknown strategy {self.strategy!r}", choice_hint(self.strategy, STRATEGIES))
        if not self.symbols:
            raise InvalidValue("symbols", "must name at least one symbol")
        if self.data not in DATA_SOURCES:
            raise InvalidValue("data", f"unknown price source {self.data!r}", choice_hint(self.data, DATA_SOURCES))
        if self.data == "csv" and len(self.csv) != len(self.symbols):
            raise InvalidValue("csv", f"data = 'csv' needs one csv path per symbol ({len(self.symbols)}), "
                               f"got {len(self.csv)}")
        if self.cash <= 0:
            raise InvalidValue("cash", f"must be positive, got {self.cash:g}")
        if self.start and self.end and self.start >= self.end:
            raise InvalidValue("end", f"{self.end} must be after the start {self.start}")
        if self.device not in DEVICE_CHOICES:
            raise InvalidValue("device", f"unknown device {self.device!r}", choice_hint(self.device, DEVICE_CHOICES))


@dataclass(frozen=True)
class CostSection:
    """Execution costs in basis points of traded value; orders fill at the next bar's open."""

    commission_bps: float = 5.0
    slippage_bps: float = 5.0

    def __post_init__(self) -> None:
        for name in ("commission_bps", "slippage_bps"):
            if not 0 <= getattr(self, name) < 1000:
                raise InvalidValue(name, f"must be in [0, 1000), got {getattr(self, name):g}")


@dataclass(frozen=True)
class ReportSection:
    """What the report includes: baselines run beside the strategy, and the leakage audit of ML runs."""

    html: bool = True
    baselines: tuple[str, ...] = ()
    leakage_audit: bool = True

    def __post_init__(self) -> None:
        price_only = [n for n, s in STRATEGIES.items() if s.signals is None]
        for name in self.baselines:
            if name not in price_only:
                raise InvalidValue("baselines", f"{name!r} is not a price-only strategy", choice_hint(name, price_only))


@dataclass(frozen=True)
class SentimentSection:
    """Where news comes from and how it is scored and aggregated per bar (see ml.sentiment.aggregate)."""

    archive: str = ""  # "" : the default archive (BT_HYBRID_NEWS_DB or ~/.local/share/bt-hybrid/news.sqlite)
    model: str = "sentiment"
    version: str = "latest"
    point_in_time: bool = True  # with version "latest": prefer a version trained only on headlines before the start
    cutoff: str = "16:00"  # exchange time; news published after it counts for the next bar
    timezone: str = "America/New_York"
    half_life: float = 24.0
    half_life_unit: str = "hours"
    dedup: bool = True  # near-duplicate news counts once, as one story from its first-seen time
    embedding_encoder: str = "e5"  # sentence encoder behind the de-duplication (bt-news embed stores its vectors)

    def __post_init__(self) -> None:
        hours, _, minutes = self.cutoff.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise InvalidValue("cutoff", f"must be HH:MM, got {self.cutoff!r}")
        self.aggregation()  # an unknown time zone or half-life unit fails here, before any training

    def aggregation(self) -> AggregationConfig:
        """These settings as the point-in-time aggregator's configuration."""
        hours, minutes = (int(x) for x in self.cutoff.split(":"))
        return AggregationConfig(cutoff=time(hours, minutes), timezone=self.timezone, half_life=self.half_life,
                                 half_life_unit=self.half_life_unit)


@dataclass(frozen=True)
class RunConfig:
    """The whole resolved configuration of one run; written to the run folder as config.toml."""

    run: RunSection = field(default_factory=RunSection)
    costs: CostSection = field(default_factory=CostSection)
    report: ReportSection = field(default_factory=ReportSection)
    walkforward: WalkForwardConfig = field(default_factory=WalkForwardConfig)
    gm: GMEnsembleConfig = field(default_factory=GMEnsembleConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    sizer: SizerConfig = field(default_factory=SizerConfig)
    sentiment: SentimentSection = field(default_factory=SentimentSection)
    buyhold: BuyHoldParams = field(default_factory=BuyHoldParams)
    sma: SmaParams = field(default_factory=SmaParams)
    exposure: ExposureParams = field(default_factory=ExposureParams)
    signals: SignalParams = field(default_factory=SignalParams)

    def __post_init__(self) -> None:
        for name, train in (("train", self.gm.train), ("warm_train", self.gm.warm_train)):
            if "auto" not in (self.run.device, train.device) and self.run.device != train.device:
                raise InvalidValue(f"gm.{name}.device", f"{train.device!r} contradicts run.device {self.run.device!r}",
                                   "set one of them, or the same device in both")

    def strategy_params(self, section: str) -> Any:
        """The parameter dataclass of a registered strategy's config section."""
        return getattr(self, section)

    def effective_gm(self) -> GMEnsembleConfig:
        """The [gm] section with run.seed applied to both training configs, and run.device where [gm] left the
        device on auto (a device set in [gm] is kept; a contradicting pair was refused on loading)."""

        def applied(device: str) -> str:
            return self.run.device if device == "auto" else device

        train = replace(self.gm.train, device=applied(self.gm.train.device), seed=self.run.seed)
        warm = replace(self.gm.warm_train, device=applied(self.gm.warm_train.device), seed=self.run.seed)
        return replace(self.gm, train=train, warm_train=warm)


def preset_path(name_or_path: str | Path) -> Path:
    """A preset by name (``default``, ``adr``) in backtests/presets/, or a path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = PRESET_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        presets = sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
        raise ConfigError(f"config file not found: {path}", "--config", f"presets: {', '.join(presets)}")
    return path


def load_config(
    source: str | Path = "default",
    overrides: Mapping[str, Any] | None = None,
    flags: Mapping[str, str] | None = None,
) -> RunConfig:
    """Read a TOML preset, apply dotted-key overrides, validate everything once.

    ``flags`` names the option each override came from (``run.cash`` -> ``--cash``); an override it does not name
    came from ``--set``. Errors name that flag, or the preset file for keys the file set.
    """
    path = preset_path(source)
    mapping = load_toml(path, "config file")
    origin_of = {key: (flags or {}).get(key, f"--set {key}") for key in overrides or {}}
    for key, value in (overrides or {}).items():
        set_dotted(mapping, key, value, origin_of[key])
    return from_mapping(RunConfig, mapping, Origins(str(path), origin_of))
