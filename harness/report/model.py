"""The report as one record: what was compared and what the engine found, before any rendering. Every
renderer (Markdown, LaTeX, CSV, FINDINGS, plots) reads it; none computes."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from harness.report.options import Options
from salt.metrics import AVERAGES

if TYPE_CHECKING:
    from harness.report.analysis import ComparisonTable
    from harness.report.answer import CurveAnswer


@dataclass
class Report:
    study: str
    revision: str
    tracking_uri: str
    options: Options
    n_runs: int
    arms: list[str]
    seeds: list[int]
    rows: list[str]
    source: str | None
    scores: pd.DataFrame
    tables: list[ComparisonTable]
    curves: pd.DataFrame | None  # None: the study has no samples-per-language axis
    expected_runs: int | None = None  # cells of the study, when known: a partial study says so
    draws: pd.DataFrame | None = None  # draw vs seed spread of arms run with several draws per seed
    settings: dict = field(default_factory=dict)  # (arm, setting label) -> typed settings, for readable labels
    contaminated: bool = False  # some run's vocabularies came from evaluation text
    answer: CurveAnswer | None = None  # what the sample-count curves say (harness.report.answer)
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None  # first run's start, last run's end
    sequential: pd.DataFrame | None = None  # under sequential seeds: the rule's decisions (harness.report.sequential)
    rule: object | None = None  # ... and its design (harness.stats.sequential.SequentialDesign)
    files: list[Path] = field(default_factory=list)
    texts: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)  # format -> rendered files (render)

    @property
    def targets(self) -> list[str]:
        """The target languages among the rows (the source and the averages aside)."""
        return [r for r in self.rows if r != self.source and r not in AVERAGES]
