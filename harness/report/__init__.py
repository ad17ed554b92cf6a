"""Reports of a study: significance tables (Markdown, LaTeX, CSV) and plots, from its MLflow runs.

- `collect`: runs -> long scores frame (arm, setting, seed, language, score);
- `comparisons`: which (arm, setting) pairs to compare;
- `analysis`: one comparison's table (harness.stats does the statistics);
- `curves`: accuracy against samples per language; `tables`, `plots`: rendering; `build`: end to end.
"""
from harness.report.analysis import ComparisonTable, Options
from harness.report.build import Report, build_report, log_to_mlflow, render, write_report

__all__ = ["ComparisonTable", "Options", "Report", "build_report", "log_to_mlflow", "render", "write_report"]
