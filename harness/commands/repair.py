"""`salt-harness repair`: check a study's Optuna journal against its MLflow runs, and mend it.

- no flag: open the journal (a torn last record is cut off, as every command does), then compare each
  revision's trials with the runs MLflow recorded for it, and say what differs;
- `--truncate`: keep the records before the first bad line (the rest go to `<journal>.torn`);
- `--rebuild`: set the journal aside and write a new one from MLflow: each revision's resolved study
  (logged with its parent run) and a COMPLETE trial for every finished run, so nothing is trained again.
"""
from __future__ import annotations

import time
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("repair", help="check a study's journal against MLflow; cut a bad tail or rebuild it")
    p.add_argument("study", type=Path, help="the study file (names the study and its store)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--truncate", action="store_true",
                     help="keep the journal's records before its first bad line; the rest go to <journal>.torn")
    how.add_argument("--rebuild", action="store_true",
                     help="set the journal aside and write a new one from the MLflow runs (nothing is retrained)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: the study's store)")
    p.set_defaults(func=repair_cmd)


def repair_cmd(args) -> int:
    from harness.journal import first_bad_line, truncate_at
    from harness.storage import locate
    from harness.study import prepare_spec

    spec = prepare_spec(args.study, check=False)
    loc = locate(spec, tracking_uri=args.tracking_uri)
    journal = loc.journal
    if journal is None:
        raise ValueError(f"study {spec.name!r} keeps its trials in {loc.storage}, not a journal file: repair works on "
                         "journals; a database storage is checked by `salt-harness status`")
    if args.rebuild:
        print(rebuild(spec.name, loc))
    elif args.truncate:
        line = first_bad_line(journal) if journal.exists() else None
        if line is None:
            print(f"{journal}: every record is complete; nothing to cut")
        else:
            n = truncate_at(journal, line)
            print(f"{journal}: cut {n} line{'s' if n != 1 else ''} from line {line} on (kept in {journal}.torn)")
    print(verify(spec.name, loc))
    return 0


def verify(study: str, loc) -> str:
    """Each revision's trials against its MLflow runs: what would be reused, what is missing."""
    from optuna.trial import TrialState

    from harness.storage import load_revision, open_storage, revisions
    from harness.tracking.readback import Reader

    found = revisions(study, open_storage(loc.storage))
    if not found:
        return f"{loc.journal}: no revision of study {study!r} in it (run the study, or --rebuild from MLflow)"
    reader = Reader(loc.tracking_uri)
    lines = [f"{loc.journal}: readable; {len(found)} revision{'s' if len(found) != 1 else ''} of study {study!r}"]
    for rev in found:
        trials = load_revision(study, loc, rev.revision)[0].get_trials(deepcopy=False)
        complete = {t.user_attrs.get("cell") for t in trials if t.state == TrialState.COMPLETE}
        runs = {r.cell.id for r in reader.trial_runs(study, revision=rev.revision) if r.cell}
        unrecorded = complete - runs
        lines.append(f"  {rev.revision}: {len(complete)} complete cell{'s' if len(complete) != 1 else ''} in Optuna, "
                     f"{len(runs)} finished run{'s' if len(runs) != 1 else ''} in MLflow"
                     + (f"; {len(runs - complete)} finished run(s) will be reused by the next `run`"
                        if runs - complete else "")
                     + (f"; {len(unrecorded)} complete cell(s) have no finished run: the next `run` cannot reuse "
                        "them, `--rebuild` requeues them" if unrecorded else ""))
    return "\n".join(lines)


def rebuild(study: str, loc) -> str:
    """A new journal from MLflow: every revision a parent run recorded, and its finished runs as COMPLETE trials."""
    import optuna

    from harness.objective import distributions
    from harness.storage import create_revision
    from harness.study import StudySpec
    from harness.tracking.readback import Reader
    from harness.tracking.tags import REVISION

    reader = Reader(loc.tracking_uri)
    revisions = list(dict.fromkeys(p.data.tags.get(REVISION) for p in reader.parents(study)))
    if not revisions:
        raise ValueError(f"MLflow at {loc.tracking_uri} has no parent run of study {study!r}: nothing to rebuild from")
    journal = loc.journal
    aside = None
    if journal.exists():
        aside = journal.with_name(f"{journal.name}.{time.strftime('%Y%m%d-%H%M%S')}.broken")
        journal.rename(aside)
    added = []
    for rev in revisions:
        spec = StudySpec.from_dict(reader.stored_study(study, rev))
        target = create_revision(spec, loc)
        n = 0
        for run in reader.trial_runs(study, revision=rev):
            value = run.metrics.get(spec.sampler.objective)
            if run.cell is None or value is None:
                continue
            target.add_trial(optuna.trial.create_trial(
                params=run.cell.params() if spec.sampler.type == "grid" else
                {k: v for k, v in run.cell.params().items() if k != "seed"},
                distributions=distributions(spec, run.cell.arm), value=value,
                user_attrs={"cell": run.cell.id, "arm": run.cell.arm, "seed": run.cell.seed,
                            "reused_run": run.run_id}))
            n += 1
        added.append(f"{rev} ({n} finished run{'s' if n != 1 else ''})")
    where = f"; the old journal is {aside}" if aside else ""
    return f"rebuilt {journal} from MLflow: revisions {', '.join(added)}{where}. `salt-harness run` queues the rest."
