"""What a report is asked for: split, test, correction, family, levels. Light (no scipy, no pandas): the CLI
builds its choices from these names and the test registry."""
from __future__ import annotations

from dataclasses import dataclass

from harness.stats.registry import ASO_TAU, CORRECTIONS, StatTest, get_test

# Which tests are corrected together (`--family`); "curve" is the sample-count answer's own: every N of one
# strategy-control pair (see harness.report.families).
FAMILIES = {"comparison": "the target languages of one comparison",
            "table": "every comparison against the same arm (a paper table)",
            "study": "every comparison of the report"}
FORMATS = ("md", "latex", "csv")
SPLITS = ("test", "dev")


@dataclass(frozen=True)
class Options:
    split: str = "test"
    test: str = "t"  # paired t over seeds: seeds are the replication unit; see harness.stats.seeds
    alpha: float = 0.05
    correction: str = "holm"
    family: str = "table"  # which tests are corrected together: see harness.report.families
    confidence: float = 0.95
    power: float = 0.8  # the power a minimum detectable effect is stated at
    n_resamples: int = 9999
    aso_bootstrap: int = 1000
    aso_tau: float = ASO_TAU
    conjunction: str = "bonferroni"
    seed: int = 0

    def __post_init__(self):
        get_test(self.test)
        if self.correction not in CORRECTIONS:
            raise ValueError(f"unknown correction {self.correction!r}; choose one of {', '.join(CORRECTIONS)}")
        if self.family not in FAMILIES:
            raise ValueError(f"unknown family {self.family!r}; choose one of {', '.join(FAMILIES)}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha}")
        if not 0 < self.power < 1:
            raise ValueError(f"power must lie in (0, 1), got {self.power}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be test or dev, got {self.split!r}")

    @property
    def entry(self) -> StatTest:
        return get_test(self.test)

    @property
    def example_level(self) -> bool:
        return self.entry.level == "example"
