"""What was loaded, per split and language: row and label counts, and where each block came from.

Meant to be printed before a run, so that a 1-row extract standing in for a full dev set, an
unlabelled test set, or rows dropped by convention are seen rather than discovered in the results.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from salt.data.local import SPLITS, LocalTaskData
from salt.data.types import UNLABELED, TaskData

if TYPE_CHECKING:  # pandas is imported on use: `import salt.data` should stay cheap for the trainer
    import pandas as pd


def describe(data: TaskData) -> pd.DataFrame:
    """One row per (split, language): rows, count per label name, unlabelled count, source."""
    import pandas as pd

    labels = data.spec.labels
    records = []
    for split in _ordered(data.splits, SPLITS):
        for lang in _ordered(data.splits[split], data.spec.languages):
            counts = Counter(ex.label for ex in data.splits[split][lang])
            records.append(
                {
                    "split": split,
                    "lang": lang,
                    "rows": sum(counts.values()),
                    **{name: counts[i] for i, name in enumerate(labels)},
                    "unlabelled": counts[UNLABELED],
                    "source": data.sources.get(split, {}).get(lang, ""),
                }
            )
    columns = ["split", "lang", "rows", *labels, "unlabelled", "source"]
    return pd.DataFrame.from_records(records, columns=columns)


def format_describe(df: pd.DataFrame, data: TaskData) -> str:
    """Plain-text report: the describe() table, dropped rows, and files found but not used."""
    lines = [f"task {data.spec.name}: labels {', '.join(data.spec.labels)}", df.to_string(index=False)]
    if data.dropped:
        lines.append("dropped rows:")
        lines += [f"  {d.count} in {d.file}: {d.reason}" for d in data.dropped]
    ignored = data.ignored if isinstance(data, LocalTaskData) else []
    if ignored:
        lines.append("files not used:")
        for item in ignored:
            where = f"{item.split}/{item.lang}" if item.split else "-"
            rows = "" if item.rows is None else f" ({item.rows} rows)"
            lines.append(f"  {where} {item.file}{rows}: {item.reason}")
    return "\n".join(lines)


def _ordered(keys: dict[str, object], preferred: tuple[str, ...]) -> list[str]:
    """Known keys in their canonical order first, anything else after, so nothing is hidden."""
    return [k for k in preferred if k in keys] + sorted(k for k in keys if k not in preferred)
