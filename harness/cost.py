"""A study's cost before it runs (`validate --cost`, `run`'s first line): per cell, its training rows, optimizer
updates and sentences to propose for (salt.cost counts them as the run does), and device-hours from a throughput
given or measured by a few real steps; `plan` converts updates to hours through the same `device_hours`."""
from __future__ import annotations

from dataclasses import dataclass

from harness.records import Cell
from harness.study import StudySpec
from harness.text import count
from salt.cost import Probe, RunCost, probe, probe_key, proposal_key, run_costs

BOUND_NOTE = ("<= : an upper bound: N = all (or a count above the largest pool possible) selects every code-switched "
              "candidate that passes the threshold, known only once the proposals run; bounded here by one candidate "
              "per source sentence and copy.")
ASKED_NOTE = ("Augmented rows are as asked (N = k per language, or the budget): a language whose pool holds fewer "
              "candidates trains on fewer, and the run warns (degenerate augmentation).")
SENTENCES_NOTE = ("sentences: source sentences the MLM proposes for (masked mode: one forward pass per eligible token "
                  "of each). The total counts each proposal pass once: cells with the same model, source rows, "
                  "proposal and vocabulary settings share one through the proposal cache (an empty cache assumed).")


def check_throughput(value: float | None, flag: str = "--throughput") -> float | None:
    """A throughput is optimizer updates per second: positive and finite."""
    if value is not None and not 0 < value < float("inf"):
        raise ValueError(f"{flag} must be a positive number of optimizer updates per second, got {value}")
    return value


def device_hours(updates: float, updates_per_s: float) -> float:
    return updates / updates_per_s / 3600


@dataclass(frozen=True)
class Throughput:
    updates_per_s: float
    source: str  # "given", or what a probe measured and where

    @classmethod
    def measured(cls, p: Probe) -> Throughput:
        return cls(p.updates_per_s, f"measured on {p.device}: {p.detail}")


@dataclass(frozen=True)
class CellCost:
    cell: Cell
    cost: RunCost
    proposal_key: tuple
    throughput: Throughput | None

    @property
    def hours(self) -> float | None:
        return None if self.throughput is None else device_hours(self.cost.updates, self.throughput.updates_per_s)


@dataclass(frozen=True)
class StudyCost:
    study: str
    revision: str
    cells: tuple[CellCost, ...]
    first_round: tuple[str, ...] | None = None  # sequential seeds: the ids of the cells every study runs

    def total(self, ids: set[str] | None = None) -> dict:
        cells = [c for c in self.cells if ids is None or c.cell.id in ids]
        passes = {c.proposal_key: c.cost.proposal_sentences for c in cells if c.cost.proposal_sentences}
        hours = [c.hours for c in cells]
        return {"cells": len(cells), "rows": sum(c.cost.rows for c in cells),
                "updates": sum(c.cost.updates for c in cells), "bound": any(c.cost.upper_bound for c in cells),
                "sentences": sum(passes.values()), "passes": len(passes),
                "hours": None if not cells or None in hours else sum(hours)}

    @property
    def throughputs(self) -> list[Throughput]:
        return list(dict.fromkeys(c.throughput for c in self.cells if c.throughput is not None))


def study_cost(spec: StudySpec, throughput: float | None = None, probe_steps: int | None = None) -> StudyCost:
    """Every cell's cost; device-hours from `throughput` (updates/s), or from a probe of `probe_steps` real updates
    per distinct (model, batch, sequence length, precision, device) among the cells, or none."""
    if spec.sampler.type != "grid":
        raise ValueError(f"study {spec.name!r} samples its cells with {spec.sampler.type} as it runs: its cost is "
                         "not known before (a trial costs what its sampled settings cost)")
    if throughput is not None and probe_steps is not None:
        raise ValueError("give either a throughput or a probe, not both")
    cells = spec.cells()
    cfgs = [spec.config(c) for c in cells]
    given = Throughput(check_throughput(throughput), "given") if throughput is not None else None
    probes: dict[tuple, Throughput] = {}
    if probe_steps is not None:
        for cfg in cfgs:
            if probe_key(cfg) not in probes:
                probes[probe_key(cfg)] = Throughput.measured(probe(cfg, probe_steps))
    out = tuple(CellCost(cell, cost, proposal_key(cfg), given or probes.get(probe_key(cfg)))
                for cell, cfg, cost in zip(cells, cfgs, run_costs(cfgs)))
    first = tuple(c.id for c in spec.first_round()) if spec.rounds is not None else None
    return StudyCost(spec.name, spec.revision, out, first)


def figure(n: int, bound: bool) -> str:
    return f"<= {n:,}" if bound else f"{n:,}"


def _hours(h: float | None) -> str:
    return "—" if h is None else f"{h:.3g}"


def render_cost(cost: StudyCost) -> str:
    """The per-cell table, the total, and what each figure means."""
    head = ["cell", "training rows", "updates", "sentences", "device-hours"]
    rows = [[c.cell.label, figure(c.cost.rows, c.cost.upper_bound), figure(c.cost.updates, c.cost.upper_bound),
             f"{c.cost.proposal_sentences:,}", _hours(c.hours)] for c in cost.cells]
    totals = [("total", cost.total())]
    if cost.first_round is not None:
        totals.append(("first round", cost.total(set(cost.first_round))))
    for name, t in totals:
        rows.append([f"{name} ({count(t['cells'], 'cell')})", figure(t["rows"], t["bound"]),
                     figure(t["updates"], t["bound"]), f"{t['sentences']:,} ({count(t['passes'], 'pass', 'passes')})",
                     _hours(t["hours"])])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))  # noqa: E731
    body = [line(head), *map(line, rows[:len(cost.cells)]), "", *map(line, rows[len(cost.cells):])]
    notes = []
    if any(c.cost.upper_bound for c in cost.cells):
        notes.append(BOUND_NOTE)
    if any(c.cost.augmented_rows or c.cost.matched_rows for c in cost.cells):
        notes.append(ASKED_NOTE)
    notes.append(SENTENCES_NOTE)
    if cost.first_round is not None:
        notes.append("Sequential seeds: the total counts every seed up to the maximum; the first round is what runs "
                     "for certain, later rounds only for the comparisons still undecided.")
    if cost.throughputs:
        notes += [f"device-hours: updates / {t.updates_per_s:,.3g} updates/s ({t.source}); training only: proposals "
                  "and evaluation come on top." for t in cost.throughputs]
    else:
        notes.append("device-hours need a throughput: --throughput UPDATES_PER_S (on the machine to run on) or "
                     "--probe (a few real updates on this device).")
    return "\n".join([f"cost of study {cost.study!r} revision {cost.revision}:", *body, "", *notes])


def total_line(cost: StudyCost) -> str:
    """One line for `run` to print before it spends anything."""
    t = cost.total()
    return (f"cost: {count(t['cells'], 'cell')}, {figure(t['rows'], t['bound'])} training rows, "
            f"{figure(t['updates'], t['bound'])} optimizer updates, {t['sentences']:,} sentences to propose for "
            f"(per cell and in device-hours: salt-harness validate STUDY --cost --probe)")
