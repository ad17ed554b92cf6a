"""Reports of a study: significance tables (Markdown, LaTeX, CSV), the sample-count answer and plots, from its
MLflow runs.

- `collect`: runs -> long scores frame (arm, setting, seed, language, score);
- `comparisons`: which (arm, setting) pairs to compare, matched on the axes both arms have;
- `analysis`: one comparison's rows (the registered test, its interval, spread, ASO);
- `families`: the one rule for families, levels, MDEs and marks;
- `engine`: every comparison of tables and curves, tested once; `answer`: the sample-count curves' answer;
- `model`: the Report record; `format`, `tables`, `latex`, `answer_text`, `findings`, `plots`, `html`:
  rendering; `build`: end to end; `options`: what a report is asked for (light: the CLI reads it).
Names below are imported on first use (PEP 562), so `harness.report.options` stays light.
"""
from importlib import import_module

_HOME = {"ComparisonTable": "analysis", "Options": "options", "Report": "model", "build_report": "build",
         "log_to_mlflow": "build", "render": "build", "write_report": "build"}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'harness.report' has no attribute {name!r}")
    return getattr(import_module(f"harness.report.{_HOME[name]}"), name)
