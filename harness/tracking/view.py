"""The study's runs table as a saved MLflow view: grouped by arm and every axis, with the objective, the
target average and the axes as columns, so comparing arms over seeds takes one link instead of ~15 clicks.

MLflow's UI loads a view from an experiment tag `mlflow.sharedViewState.<key>` (the JSON its "Share" button
writes) when the page is opened with `?viewStateShareKey=<key>`; `salt-harness ui` prints that link.
"""
from __future__ import annotations

import json
from typing import Iterable

SHARED_VIEW = "mlflow.sharedViewState."  # the MLflow UI's tag prefix for a shared view
VIEW_KEY = "salt-study"


def _column(kind: str, key: str) -> str:
    return f"{kind}.`{key}`"  # the UI's canonical column key


def study_view(axes: Iterable[str], metrics: Iterable[str], group_axes: bool = True) -> dict:
    """Runs grouped by arm then each axis (the mean over seeds in each group row; a TPE study's sampled
    values are not groups, so it is grouped by arm only), newest first."""
    axes = list(axes)
    group = [{"mode": "param", "groupByData": key} for key in ("arm", *(axes if group_axes else []))]
    return {
        "searchFilter": "", "orderByKey": "attributes.start_time", "orderByAsc": False,
        "selectedColumns": [_column("params", k) for k in ("arm", *axes)] + [_column("metrics", m) for m in metrics],
        "groupBy": {"aggregateFunction": "average", "groupByKeys": group},
        "groupsExpanded": {}, "useGroupedValuesInCharts": True,
    }


def view_tag(view: dict) -> tuple[str, str]:
    """The experiment tag (key, value) that holds `view`."""
    return SHARED_VIEW + VIEW_KEY, json.dumps(view)


def view_url(base: str, experiment_id: str) -> str:
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?viewStateShareKey={VIEW_KEY}"
