"""`salt-harness report`: significance tables and plots of a study, from its MLflow runs.

Default test: the paired t-test over seeds. Seeds are what varies between replications of a trained
model (Reimers & Gurevych 2017), they pair naturally across arms, and with 3-10 seeds the rank and
permutation tests cannot reach small p-values (5 seeds: p >= 0.0625), while the t-test can; its
calibration on simulated data is in validation/CALIBRATION.md. Example-level tests (bootstrap, ar) see
only test-set noise and need the logged predictions.
"""
from __future__ import annotations

import sys
from pathlib import Path

from harness.report.options import FAMILIES, FORMATS, SPLITS
from harness.stats.registry import CORRECTIONS, TESTS, help_text
from harness.text import count


def add_statistics_options(p) -> None:
    """What decides the numbers (shared by `report` and `plan`)."""
    p.add_argument("--test", choices=list(TESTS), default="t",
                   help="the test of every comparison (default t): " + help_text())
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of the tests and marks")
    p.add_argument("--power", type=float, default=0.8,
                   help="the power each minimum detectable effect (MDE) is stated at (default 0.8)")
    p.add_argument("--correction", choices=list(CORRECTIONS), default="holm",
                   help="multiple-comparison correction within a family (default holm)")
    p.add_argument("--family", choices=list(FAMILIES), default="table",
                   help="which tests are corrected together (target languages only; the averages apart): "
                        + "; ".join(f"{k}: {v}" for k, v in FAMILIES.items()) + " (default table)")
    p.add_argument("--split", choices=list(SPLITS), default="test", help="the split whose accuracy is compared")
    p.add_argument("--compare", nargs=2, action="append", metavar=("ARM_A", "ARM_B"),
                   help="compare A with B (repeatable); `arm:setting=value` fixes a setting, e.g. "
                        "salt:samples_per_lang=500. Default: every arm vs the baseline, each arm vs its controls")
    p.add_argument("--resamples", type=int, default=9999, help="bootstrap / permutation resamples")
    p.add_argument("--revision", help="an earlier revision of the study (a prefix of its id; `status` lists them); "
                   "default: the study file as it is now")
    p.add_argument("--smoke", action="store_true", help="the study's --smoke run")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: the study's store)")


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="significance tables (md, LaTeX, CSV) and plots of a study's runs",
                       description=__doc__)
    p.add_argument("study", type=Path, help="the study file")
    p.add_argument("--format", choices=FORMATS, help="render only this format and print it (default: all three "
                   "into --out, Markdown printed)")
    p.add_argument("--out", type=Path, help="output directory (default: reports/<study name>/)")
    add_statistics_options(p)
    p.add_argument("--paper", action="store_true",
                   help="with --format latex, print the paper's compact main table (table*, arms x languages) "
                        "instead of the appendix of every comparison; both are written")
    p.add_argument("--no-plots", action="store_true", help="tables only, no plots")
    p.add_argument("--no-log", action="store_true", help="do not attach the files to the study's MLflow parent run")
    p.add_argument("--findings", action="store_true",
                   help="also write FINDINGS.md into --out: what was run and what the sample-count curves say, in "
                        "words with their uncertainty (needs an augment.samples_per_lang axis)")
    p.set_defaults(func=report_cmd)


def load_report(args, spec=None):
    """(the study, its report) for `args` of `add_statistics_options`; `spec`: a study already prepared."""
    from harness.report.build import study_report
    from harness.report.options import Options
    from harness.storage import locate
    from harness.study import StudySpec, prepare_spec
    from harness.tracking.readback import Reader

    if args.resamples < 99:
        raise ValueError(f"--resamples must be at least 99, got {args.resamples}")
    spec = spec or prepare_spec(args.study, smoke=args.smoke, check=False)
    uri = locate(spec, tracking_uri=args.tracking_uri).tracking_uri
    if args.revision:
        spec = StudySpec.from_dict(Reader(uri).stored_study(spec.name, args.revision))
    options = Options(split=args.split, test=args.test, alpha=args.alpha, correction=args.correction,
                      family=args.family, n_resamples=args.resamples, power=args.power)
    return spec, study_report(spec, uri, options, [tuple(c) for c in args.compare or []] or None)


def report_cmd(args) -> int:
    from harness.report.build import log_to_mlflow, render, write_report

    spec, report = load_report(args)
    out = args.out or Path("reports") / spec.name
    formats = (args.format,) if args.format else FORMATS
    paths = write_report(report, out, formats, plots=not args.no_plots)
    if args.findings:
        from harness.report.findings import render_findings

        findings = Path(out) / "FINDINGS.md"
        findings.write_text(render_findings(report, spec.description), encoding="utf-8")
        paths.append(findings)
    if not args.no_log:
        log_to_mlflow(report, paths)
    shown = args.format or "md"
    texts = render(report, shown)
    if shown == "latex":
        texts = {name: text for name, text in texts.items() if (name == "main.tex") == args.paper}
    sys.stdout.write("\n\n".join(f"# {name}\n{text}" if shown == "csv" else text for name, text in texts.items()))
    sys.stdout.write("\n")
    print(f"wrote {count(len(paths), 'file')} to {out}" + ("" if args.no_log else " and to the study's MLflow parent run"),
          file=sys.stderr)
    return 0
