"""`salt-harness plan`: how many seeds each comparison of a study needs to find a target effect, and what the
missing seeds cost, from the runs already in its store or from a pilot of K seeds run first (harness.report.plan).
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from harness.commands.report import add_statistics_options, load_report
from harness.stats.registry import TESTS


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="seeds each comparison needs for a target effect at 80%% power, and their cost",
                       description=__doc__)
    p.add_argument("study", type=Path, help="the study file")
    p.add_argument("--effect", type=float, default=1.4,
                   help="the true difference to detect, in accuracy points (default 1.4: SALT's claim on XNLI)")
    p.add_argument("--pilot", type=int, metavar="K",
                   help="first run the first K seeds of the study (of --arms, if given) as its own revision, then "
                        "plan from those runs; without it the plan reads the runs already there")
    p.add_argument("--arms", nargs="+", help="with --pilot: only these arms of the study")
    p.add_argument("--workers", type=int, default=1, help="with --pilot: local worker processes (default 1)")
    p.add_argument("--throughput", type=float,
                   help="optimizer updates per second on the machine the seeds will run on; default: the wall "
                        "time the runs took where they ran")
    p.add_argument("--out", type=Path, help="where plan.md and plan.csv go (default: reports/<study name>/)")
    add_statistics_options(p)
    p.set_defaults(func=plan_cmd)


def _pilot(args):
    """The study cut to its first K seeds (and --arms): its own revision, whose finished cells a later full run
    reuses (a cell is its content, seeds included)."""
    from harness.scheduler import run_study
    from harness.study import prepare_spec

    spec = prepare_spec(args.study, smoke=args.smoke)
    if args.pilot < 2:
        raise ValueError(f"--pilot needs at least 2 seeds to see a spread, got {args.pilot}")
    if args.pilot > len(spec.seeds):
        raise ValueError(f"--pilot {args.pilot}: {args.study} declares only {len(spec.seeds)} seeds "
                         f"({', '.join(map(str, spec.seeds))}); give at most that many")
    arms = tuple(args.arms or spec.arms)
    unknown = [a for a in arms if a not in spec.arms]
    if unknown:
        raise ValueError(f"--arms: {', '.join(unknown)} not among the study's arms ({', '.join(spec.arms)})")
    pilot = replace(spec, seeds=tuple(spec.seeds[:args.pilot]), arms=arms, rounds=None)
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    summary = run_study(pilot, workers=args.workers, tracking_uri=args.tracking_uri)
    if summary["complete"] < summary["cells"]:
        raise ValueError(f"the pilot completed {summary['complete']} of {summary['cells']} cells: see "
                         "`salt-harness status`; the plan needs them all")
    return pilot


def plan_cmd(args) -> int:
    from harness.cost import check_throughput
    from harness.report.plan import cost_frame, plan_frame, render_plan

    if not 0 < args.effect < 100:
        raise ValueError(f"--effect is in accuracy points, between 0 and 100, got {args.effect}")
    check_throughput(args.throughput)
    if TESTS[args.test].level != "seed" or not TESTS[args.test].paired:
        raise ValueError(f"--test {args.test}: the plan sizes paired seed-level tests "
                         f"({', '.join(t.name for t in TESTS.values() if t.paired and t.level == 'seed')})")
    spec = _pilot(args) if args.pilot else None
    spec, report = load_report(args, spec)
    effect = args.effect / 100
    plan = plan_frame(report, effect, args.power)
    cost = cost_frame(report, plan, throughput=args.throughput)
    text = render_plan(report, plan, cost, effect, args.power, args.throughput)
    out = args.out or Path("reports") / spec.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.md").write_text(text, encoding="utf-8")
    plan.to_csv(out / "plan.csv", index=False)
    sys.stdout.write(text)
    print(f"wrote plan.md and plan.csv to {out}", file=sys.stderr)
    return 0
