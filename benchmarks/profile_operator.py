"""Run the operator exactly as `celigo-operator run` does, under cProfile or tracemalloc, to explain a figure.

    python -m benchmarks.profile_operator --cpu out.prof -- -A    # kill -USR1 <pid> to write the stats
    python -m benchmarks.profile_operator --mem out.txt -- -A     # touch out.txt.trigger to snapshot
                                                                  # (again: also the growth since the last)

Why a wrapper: the operator code stays untouched; cProfile covers kopf's event loop thread (the one that
decides latency), tracemalloc every allocation since start. Run it with the environment the bench gives the
operator (CELIGO_OPERATOR_*, KUBECONFIG) against a control plane of your own.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import signal
import sys
import threading
import time
import tracemalloc
from pathlib import Path

from celigo_operator import cli


def _snapshot_on_trigger(out: Path, stop: threading.Event) -> None:
    trigger = out.with_name(out.name + ".trigger")
    previous: tracemalloc.Snapshot | None = None
    while not stop.is_set():
        if trigger.exists():
            trigger.unlink()
            snap = tracemalloc.take_snapshot()
            current, peak = tracemalloc.get_traced_memory()
            lines = [f"traced now {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB", ""]
            for key in ("filename", "lineno"):
                lines.append(f"--- top by {key} ---")
                lines += [str(s) for s in snap.statistics(key)[:25]]
                lines.append("")
            if previous is not None:  # what the process took on between two triggers (e.g. empty -> N)
                lines.append("--- growth since the previous snapshot, by lineno ---")
                lines += [str(s) for s in snap.compare_to(previous, "lineno")[:40]]
                lines.append("")
                if tracemalloc.get_traceback_limit() > 1:
                    lines.append("--- growth since the previous snapshot, by traceback ---")
                    for diff in snap.compare_to(previous, "traceback")[:15]:
                        lines += [str(diff), *diff.traceback.format(most_recent_first=True), ""]
            previous = snap
            out.write_text("\n".join(lines))
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_operator")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--cpu", type=Path, help="write cProfile stats (and a .txt summary) here on exit")
    group.add_argument("--mem", type=Path, help="write tracemalloc top stats here when <file>.trigger appears")
    parser.add_argument("--frames", type=int, default=1,
                        help="--mem: frames kept per allocation (more: who allocated, and a slower start)")
    parser.add_argument("run_args", nargs="*", help="arguments after `celigo-operator run`")
    args = parser.parse_args(argv)
    if args.cpu:
        profiler = cProfile.Profile()
        out: Path = args.cpu

        def dump(*_: object) -> None:
            # Runs on the main thread (kopf's loop thread), where the profiler is enabled.
            profiler.disable()
            profiler.dump_stats(str(out))
            with out.with_suffix(".txt").open("w") as fh:
                stats = pstats.Stats(profiler, stream=fh)
                stats.sort_stats("cumulative").print_stats(45)
                stats.sort_stats("tottime").print_stats(30)
            profiler.enable()

        signal.signal(signal.SIGUSR1, dump)
        profiler.enable()
        return int(cli.main(["run", *args.run_args]) or 0)
    tracemalloc.start(args.frames)  # one frame by default: deeper traces slow the import of kopf past a minute
    stop = threading.Event()
    threading.Thread(target=_snapshot_on_trigger, args=(args.mem, stop), daemon=True).start()
    try:
        return int(cli.main(["run", *args.run_args]) or 0)
    finally:
        stop.set()


if __name__ == "__main__":
    sys.exit(main())
