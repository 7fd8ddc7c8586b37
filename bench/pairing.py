"""Pairing benchmark: Funkel's engine beside the baselines, on the same realistic pools.

    python -m bench.pairing [--sizes 200 1000 ...] [--repeat N] [--json PATH] [--smoke]

For every pool size it generates one synthetic pool (``bench.pools``) and runs, each in a
forked child process (so that memory is measured per method and a runaway method can be
stopped):

- ``funkel``: ``bot.core.pairing.pair``, everything it does included;
- ``random``: shuffle and pair neighbours, swapping to avoid repeats (Donut-style);
- ``greedy``: every pair that shares something, heaviest first;
- ``exact``: networkx's maximum-weight matching on the complete graph (small pools only);
- ``lp-bound``: the LP relaxation of the matching over every sharing pair (HiGHS, via SciPy),
  an upper bound where the exact optimum is out of reach.

Every round is scored by one function (``bench.scoring``, checked against Funkel's own
``explain_score``), and its quality is reported as a fraction of the exact optimum (n ≤ 300,
even counts) or else of the LP bound. Columns are explained in ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import scipy

from bench import baselines
from bench.pools import Pool, PoolSpec, make_pool
from bench.scoring import Quality, Scorer, check_against_funkel, evaluate
from bot.core.pairing import pair
from bot.core.phrases import normalise

DEFAULT_SIZES = (200, 1000, 3000, 10000, 100000)
SMOKE_SIZES = (200, 1000)
DEFAULT_JSON = Path(__file__).parent / "results" / "pairing.json"
METHODS = ("funkel", "random", "greedy", "exact", "lp-bound")
# A method whose runs add up to more than this is not repeated (the slow baselines).
SLOW_S = 10.0
MB = 1 << 20


# --- measuring one method in a child process ----------------------------------------------------


@dataclass
class Run:
    """One method on one pool: its timing, memory and result (or why there is none)."""

    method: str
    n: int
    status: str = "ok"  # "ok", "skipped: ...", "failed: ...", "timed out ..."
    times: list[float] = field(default_factory=list)
    python_peak_mb: float | None = None  # tracemalloc peak, a separate traced run
    rss_delta_mb: float | None = None  # max RSS during the timed runs minus RSS at start
    quality: Quality | None = None
    ratio: float | None = None  # score / reference score
    bound: dict[str, Any] | None = None  # lp-bound only
    note: str = ""

    @property
    def time_s(self) -> float | None:
        return statistics.median(self.times) if self.times else None


def _status_kb(field_name: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (Linux ≥ 4.0), so getrusage measures from now."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def _child(
    conn: Any,
    work: Callable[[], Any],
    repeat: int,
    trace_limit: float,
    memory_limit: int,
) -> None:
    try:
        if memory_limit:
            vm = _status_kb("VmSize") * 1024
            resource.setrlimit(resource.RLIMIT_AS, (vm + memory_limit, resource.RLIM_INFINITY))
        exact_rss = _reset_peak_rss()  # else the child's peak would be the parent's
        start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        times: list[float] = []
        result = None
        for _ in range(repeat):
            began = time.perf_counter()
            result = work()
            times.append(time.perf_counter() - began)
            if sum(times) > SLOW_S:
                break
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        rss_delta = (rss - start_rss) / 1024 if exact_rss else None
        python_peak = None
        if statistics.median(times) <= trace_limit:
            tracemalloc.start()
            work()
            python_peak = tracemalloc.get_traced_memory()[1] / MB
            tracemalloc.stop()
        conn.send(("ok", result, times, rss_delta, python_peak))
    except MemoryError:
        conn.send(("failed", f"out of memory (limit {memory_limit / 2**30:.0f} GB)"))
    except Exception as error:  # reported in the table, the benchmark goes on
        conn.send(("failed", f"{type(error).__name__}: {error}"))
    finally:
        conn.close()


def measure(
    run: Run,
    work: Callable[[], Any],
    *,
    repeat: int,
    timeout: float,
    trace_limit: float,
    memory_limit: int,
) -> Any:
    """Run ``work`` in a forked child: time it ``repeat`` times, measure memory; fill ``run``."""
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, work, repeat, trace_limit, memory_limit))
    child.start()
    send.close()
    result = None
    try:
        if receive.poll(timeout):
            message = receive.recv()
            if message[0] == "ok":
                _, result, run.times, run.rss_delta_mb, run.python_peak_mb = message
                if run.python_peak_mb is None:
                    run.note = f"not traced (> {trace_limit:g} s)"
            else:
                run.status = f"failed: {message[1]}"
        else:
            child.kill()
            run.status = f"timed out after {timeout:.0f} s"
    except EOFError:
        run.status = "failed: the child process died (out of memory?)"
    finally:
        child.join()
        receive.close()
    if run.status == "ok" and child.exitcode not in (0, None):
        run.status = f"failed: exit code {child.exitcode}"
    return result


# --- the methods as work for a child --------------------------------------------------------------


def funkel_work(pool: Pool, seed: int) -> Callable[[], Any]:
    def work() -> Any:
        # Card normalisation is part of pairing: start each run with a cold phrase cache (the
        # parent process warmed it while building the scorer, and a fork inherits it).
        normalise.cache_clear()
        result = pair(
            pool.people, seed=seed, history=pool.history, blocks=pool.blocks, now=pool.now
        )
        index = {p.key: i for i, p in enumerate(pool.people)}
        groups = [tuple(index[k] for k in g.members) for g in result.groups]
        return groups, [g.score for g in result.groups]

    return work


def baseline_work(
    method: Callable[..., list[tuple[int, ...]]], pool: Pool, seed: int
) -> Callable[[], Any]:
    return lambda: method(pool.people, pool.history, pool.blocks, seed)


def estimate(measured: dict[int, float], n: int) -> float | None:
    """Time at ``n`` extrapolated from the two largest measured sizes below it (power law,
    exponent at least 1); None when nothing smaller was measured."""
    below = sorted(m for m in measured if m < n)
    if not below:
        return None
    last = below[-1]
    exponent = 2.0
    if len(below) >= 2:
        prev = below[-2]
        if measured[prev] > 0 and measured[last] > 0:
            exponent = math.log(measured[last] / measured[prev]) / math.log(last / prev)
    exponent = min(3.0, max(1.0, exponent))
    return measured[last] * (n / last) ** exponent


# --- one size ------------------------------------------------------------------------------------


@dataclass
class SizeReport:
    n: int
    pool: dict[str, Any]
    reference: str  # what "% of ref" divides by
    reference_score: float | None
    runs: list[Run]


def bench_size(
    n: int, args: argparse.Namespace, funkel_times: dict[int, float], log: Callable[[str], None]
) -> SizeReport:
    began = time.perf_counter()
    pool = make_pool(PoolSpec(n=n, seed=args.seed))
    generated = time.perf_counter() - began
    scorer = Scorer.build(pool.people, pool.history, pool.blocks)
    checked = check_against_funkel(scorer, pool.people, max(3, min(40, 200_000 // n)), args.seed)
    coholders = scorer.coholder_pairs()
    sample = np.sort(np.random.default_rng(args.seed).choice(n, min(n, 300), replace=False))
    complementary = scorer.complementary_share(sample)
    phrases = sum(len(p.curious_about) + len(p.can_tell_about) for p in pool.people)
    info = {
        "people": n,
        "phrases": phrases,
        "distinct_topics": len(scorer.topics),
        "most_holders": int(scorer.holders.max()),
        "coholder_pairs": coholders,
        "complementary_share": round(complementary, 4),
        "encounters": len(pool.history),
        "blocks": len(pool.blocks),
        "bilingual": int(sum(len(p.languages) > 1 for p in pool.people)),
        "generated_s": round(generated, 2),
        "score_checked_pairs": checked,
    }
    log(
        f"\nn = {n:,}: {phrases:,} phrases ({len(scorer.topics):,} distinct, the most common on"
        f" {info['most_holders']:,} cards), {coholders:,} co-holder pairs"
        f" ({100 * complementary:.0f} % of sharing pairs have a complementary match),"
        f" {len(pool.history):,} past encounters, {len(pool.blocks)} blocks;"
        f" generated in {generated:.1f} s; score = explain_score on {checked} pairs"
    )
    opts = {
        "timeout": args.timeout,
        "trace_limit": args.trace_limit,
        "memory_limit": int(args.memory_limit_gb * 2**30),
    }
    runs: list[Run] = []
    rounds: dict[str, list[tuple[int, ...]]] = {}

    def note(run: Run) -> None:
        t = run.time_s
        log(f"  {run.method:<9} {run.status}" + (f", {t:.3f} s" if t is not None else ""))

    # 1. Funkel
    run = Run("funkel", n)
    guess = estimate(funkel_times, n)
    if "funkel" not in args.methods:
        run.status = "skipped: not selected"
    elif n > args.funkel_always and guess is not None and guess > args.funkel_budget:
        last = max(m for m in funkel_times if m < n)
        run.status = (
            f"skipped: {funkel_times[last]:.1f} s at n={last}, est. {guess:.0f} s here"
            f" (> {args.funkel_budget:.0f} s)"
        )
    else:
        out = measure(run, funkel_work(pool, args.seed), repeat=args.repeat, **opts)
        if out is not None:
            groups, scores = out
            rounds["funkel"] = groups
            funkel_times[n] = run.time_s or 0.0
            # Funkel's own group scores must be this benchmark's scores.
            ours = [evaluate(scorer, [g]).score for g in groups]
            worst = max((abs(a - b) for a, b in zip(ours, scores, strict=True)), default=0.0)
            assert worst < 1e-5, f"Group.score differs from the benchmark's score by {worst}"
    runs.append(run)
    note(run)

    # 2, 3. random, greedy
    for name, method in (
        ("random", baselines.random_shuffle),
        ("greedy", baselines.greedy_all_edges),
    ):
        run = Run(name, n)
        need = coholders * GREEDY_BYTES_PER_PAIR
        if name not in args.methods:
            run.status = "skipped: not selected"
        elif name == "greedy" and need > opts["memory_limit"]:
            run.status = (
                f"skipped: up to {coholders:.2g} sharing pairs need ~{need / 2**30:.0f} GB"
                f" (> {args.memory_limit_gb:g} GB)"
            )
        else:
            out = measure(run, baseline_work(method, pool, args.seed), repeat=args.repeat, **opts)
            if out is not None:
                rounds[name] = out
        runs.append(run)
        note(run)

    # 4. exact
    run = Run("exact", n)
    if "exact" not in args.methods:
        run.status = "skipped: not selected"
    elif n > args.exact_max:
        run.status = f"skipped: n > {args.exact_max} (complete graph, O(n³))"
    else:
        work = baseline_work(baselines.exact_networkx, pool, args.seed)
        out = measure(run, work, repeat=1, **opts)
        if out is not None:
            rounds["exact"] = out
    runs.append(run)
    note(run)

    # 5. LP bound
    run = Run("lp-bound", n)
    bound: baselines.Bound | None = None
    if "lp-bound" not in args.methods:
        run.status = "skipped: not selected"
    else:
        budget = args.lp_budget
        passes_s = coholders / PRICING_PAIRS_PER_S
        if passes_s * 2 > budget:
            run.status = (
                f"skipped: one pricing pass over {coholders:.2g} co-holder pairs takes"
                f" ~{passes_s:.0f} s, the budget is {budget:.0f} s"
            )
        else:
            bound = measure(
                run,
                lambda: baselines.lp_upper_bound(scorer, budget_s=budget, seed=args.seed),
                repeat=1,
                **{**opts, "timeout": max(args.timeout, 3 * budget)},
            )
            if bound is not None:
                run.bound = asdict(bound)
                run.note = f"{bound.status}, {bound.passes} passes, {bound.columns:,} columns"
                if bound.status != "optimal" and bound.lp_value and bound.value is not None:
                    # The LP optimum lies between the last restricted LP and the bound.
                    gap = (bound.value - bound.trio_term) / bound.lp_value - 1
                    run.note += (
                        f", {bound.violated:,} pairs still violated when the budget ran out:"
                        f" at most {100 * gap:.2f} % above the LP optimum"
                    )
    runs.append(run)
    note(run)

    # The reference: the exact optimum for an even count, else the LP bound.
    reference, ref_score = "none", None
    if "exact" in rounds and n % 2 == 0:
        reference = "exact"
        ref_score = evaluate(scorer, rounds["exact"]).score
    elif bound is not None and bound.value is not None:
        reference = "lp-bound"
        ref_score = bound.value
    for run in runs:
        if run.method in rounds:
            run.quality = evaluate(scorer, rounds[run.method])
            if ref_score:
                run.ratio = run.quality.score / ref_score
        elif run.method == "lp-bound" and bound is not None and bound.value is not None:
            run.ratio = bound.value / ref_score if ref_score else None
    return SizeReport(n, info, reference, ref_score, runs)


# Greedy keeps every sharing pair (i, j as int32, the score as float64, the sort order) plus
# the sparse products that enumerate them: measured at about 40 bytes a pair, with margin.
GREEDY_BYTES_PER_PAIR = 48
# Pricing throughput of the LP bound (sparse products + filters), measured on this machine
# class; only used to decide, before starting, whether a pass fits the budget at all.
PRICING_PAIRS_PER_S = 12e6


# --- output ---------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_gb = None
    with contextlib.suppress(ValueError, OSError):
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    commit = None
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "networkx": nx.__version__,
        "platform": platform.platform(),
        "commit": commit,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


HEADER = (
    f"{'n':>7} {'method':<9} {'runs':>4} {'time s':>9} {'x greedy':>8} {'py MB':>7}"
    f" {'RSS MB':>7} {'score':>10} {'% of ref':>8} {'shared':>7} {'repeat':>6}"
    f" {'blocked':>7} {'no-lang':>7} {'unplaced':>8} {'trios':>5}  note"
)


def _fmt(value: float | None, spec: str, width: int) -> str:
    return f"{value:{spec}}".rjust(width) if value is not None else "—".rjust(width)


def table_rows(report: SizeReport) -> list[str]:
    greedy = next((r.time_s for r in report.runs if r.method == "greedy"), None)
    lines = []
    for run in report.runs:
        t = run.time_s
        if run.status != "ok":
            lines.append(f"{report.n:>7} {run.method:<9} {run.status}")
            continue
        q = run.quality
        score = q.score if q else (run.bound or {}).get("value")
        ratio = 100 * run.ratio if run.ratio is not None else None
        is_ref = run.method == report.reference
        ratio_text = "(ref)".rjust(8) if is_ref else _fmt(ratio, ".2f", 8)
        shared = 100 * q.shared / q.groups if q and q.groups else None
        counts = (
            [q.repeats, q.blocked_pairs, q.no_common_language, q.unplaced, q.trios]
            if q
            else [None] * 5
        )
        lines.append(
            f"{report.n:>7} {run.method:<9} {len(run.times):>4} {_fmt(t, '.3f', 9)}"
            f" {_fmt(t / greedy if t is not None and greedy else None, '.2f', 8)}"
            f" {_fmt(run.python_peak_mb, '.0f', 7)} {_fmt(run.rss_delta_mb, '.0f', 7)}"
            f" {_fmt(score, '.1f', 10)} {ratio_text}"
            f" {_fmt(shared, '.1f', 6)}{'%' if shared is not None else ' '}"
            + "".join(" " + _fmt(c, "d", w) for c, w in zip(counts, (6, 7, 7, 8, 5), strict=True))
            + f"  {run.note}"
        )
    return lines


def to_json(report: SizeReport) -> dict[str, Any]:
    out = asdict(report)
    for run_out, run in zip(out["runs"], report.runs, strict=True):
        run_out["time_s"] = run.time_s
        if run.quality:
            run_out["quality"]["shared_share"] = (
                run.quality.shared / run.quality.groups if run.quality.groups else None
            )
    return out


# --- the command ---------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.pairing",
        description="Funkel's pairing vs random, greedy, exact and an LP bound (issue 3).",
    )
    p.add_argument("--sizes", type=int, nargs="+", help=f"pool sizes (default {DEFAULT_SIZES})")
    p.add_argument("--repeat", type=int, help="timed runs per method, median shown (default 3)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    p.add_argument("--smoke", action="store_true", help="sizes 200 and 1000, one run: for CI")
    p.add_argument("--seed", type=int, default=1, help="pool and pairing seed (default 1)")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument(
        "--funkel-budget",
        type=float,
        default=120.0,
        metavar="S",
        help="skip Funkel where its estimated time exceeds this (default 120)",
    )
    p.add_argument(
        "--funkel-always",
        type=int,
        default=3000,
        metavar="N",
        help="always run Funkel up to this size (default 3000)",
    )
    p.add_argument(
        "--exact-max",
        type=int,
        default=300,
        metavar="N",
        help="run networkx's exact matching up to this size (default 300)",
    )
    p.add_argument(
        "--lp-budget",
        type=float,
        default=900.0,
        metavar="S",
        help="time for the LP bound's column generation per size (default 900)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=1200.0,
        metavar="S",
        help="kill a method's child process after this long (default 1200)",
    )
    p.add_argument(
        "--trace-limit",
        type=float,
        metavar="S",
        help="rerun under tracemalloc only if a run is at most this long (default 30; smoke: 3)",
    )
    p.add_argument(
        "--memory-limit-gb",
        type=float,
        default=6.0,
        metavar="GB",
        help="address-space limit of a method's child process (default 6)",
    )
    args = p.parse_args(argv)
    if args.smoke:
        args.sizes = args.sizes or list(SMOKE_SIZES)
        args.repeat = args.repeat or 1
        args.trace_limit = 3.0 if args.trace_limit is None else args.trace_limit
    args.sizes = args.sizes or list(DEFAULT_SIZES)
    args.repeat = args.repeat or 3
    args.trace_limit = 30.0 if args.trace_limit is None else args.trace_limit
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    started = time.perf_counter()
    info = machine()

    def log(line: str) -> None:
        print(line, flush=True)

    log(
        f"Funkel pairing benchmark — {info['nproc']} CPUs ({info['cpu']}),"
        f" {info['memory_gb']} GB RAM, Python {info['python']}, numpy {info['numpy']},"
        f" scipy {info['scipy']}, networkx {info['networkx']}, commit {info['commit']}"
    )
    log(f"sizes {args.sizes}, median of up to {args.repeat} runs, seed {args.seed}")
    reports: list[SizeReport] = []
    funkel_times: dict[int, float] = {}
    for n in args.sizes:
        reports.append(bench_size(n, args, funkel_times, log))
    log("")
    log(HEADER)
    for report in reports:
        ref = (
            f"{report.reference} = {report.reference_score:,.1f}"
            if report.reference_score is not None
            else "none"
        )
        log(f"{'':>7} reference: {ref}")
        for line in table_rows(report):
            log(line)
    elapsed = time.perf_counter() - started
    log(f"\ntotal {elapsed:.0f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": info,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "pool_spec": {k: v for k, v in asdict(PoolSpec(n=0, seed=args.seed)).items() if k != "n"},
        "sizes": [to_json(r) for r in reports],
        "total_s": elapsed,
    }
    args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    log(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
