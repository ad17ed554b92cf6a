"""`--smoke`: any study, end to end on CPU in minutes, with the synthetic world's tiny model.

Same study structure (arms, axes, sampler), same code path; only the task, model and sizes shrink,
and records go to a throwaway store so the real one stays clean.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

from harness.study import Output, StudySpec

SYNTHETIC_TASK = {"xnli": "synthetic-nli", "pawsx": "synthetic-paraphrase"}


def smoke_spec(spec: StudySpec) -> StudySpec:
    from salt.synthetic import WORLD_PRESETS

    world = "tiny"
    langs = WORLD_PRESETS[world].languages
    base = replace(spec.base, task=SYNTHETIC_TASK.get(spec.base.task, spec.base.task), data_source="synthetic",
                   data_dir=None, hub_id=None, model=f"synthetic:{world}", world=world, source_lang=langs[0],
                   target_langs=tuple(langs[1:]),
                   train=replace(spec.base.train, epochs=3, max_train_examples=300, max_eval_examples=100,
                                 max_seq_len=64, batch_size=32, learning_rate=1e-3, precision="fp32", device="cpu",
                                 threads=1, grad_accum=1),
                   augment=replace(spec.base.augment, batch_size=64))
    sampler = replace(spec.sampler, n_trials=min(spec.sampler.n_trials or 0, 4) or None)
    root = Path(os.environ.get("SALT_SMOKE_DIR") or Path(tempfile.gettempdir()) / "salt-smoke")
    out = Output(dir=str(root / spec.name))
    return replace(spec, name=f"{spec.name}-smoke", base=base, seeds=spec.seeds[:1], sampler=sampler, output=out)
