"""The benchmark's command line: ``cnnkit bench`` and ``python -m benchmarks.run``.

``main(argv)`` parses the options, fixes the thread count for NumPy's BLAS and for PyTorch,
measures the float32 GEMM peak, runs the selected cases (``cases.py``) with the timing procedure
of ``harness.py`` (one progress line per case on stderr), measures the GEMM peak again, then prints
the table, the peak memory, the BLAS kernel and the thread counts on stdout, and writes everything
to a JSON file when asked.

Exit status: 0 when every selected case ran, 1 when a case raised an error (its row says which),
2 for bad options or a missing PyTorch.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from . import cases as case_module
from .harness import (
    BUSY_LIMIT,
    LOAD_MARGIN,
    SPREAD_LIMIT,
    ThreadSettings,
    blas_report,
    compare,
    gflops,
    measure_gemm_peak,
    openblas_environment,
    target_status,
)

__all__ = ["main", "build_parser"]

DEFAULT_THREADS = 2
FULL_SETTINGS = {"repeats": 7, "warmup": 2, "min_sample_seconds": 0.05, "gemm_size": 2048}
QUICK_SETTINGS = {"repeats": 5, "warmup": 1, "min_sample_seconds": 0.03, "gemm_size": 1536}
MEMORY_CHILD_TIMEOUT_SECONDS = 300
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; received {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnkit bench",
        description="cnnkit against PyTorch, same process, same data, same thread count.",
        epilog="For NumPy's full speed: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE cnnkit bench. "
               "See benchmarks/README.md for the columns and flags.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and smaller batches where the table notes it (under a minute)")
    parser.add_argument("--json", metavar="FILE", help="also write every number and sample to FILE")
    parser.add_argument("--cases", metavar="SUBSTRING", action="append", default=[],
                        help="run only the cases whose name contains SUBSTRING (repeatable, or comma-separated)")
    parser.add_argument("--repeats", type=_positive_int, default=None,
                        help="timed samples per side (default: 7, --quick: 5)")
    parser.add_argument("--threads", type=_positive_int, default=DEFAULT_THREADS,
                        help=f"threads for NumPy's BLAS and for PyTorch (default: {DEFAULT_THREADS})")
    parser.add_argument("--list", action="store_true", help="list the case names and exit")
    parser.add_argument("--memory-child", choices=("cnnkit", "torch"), help=argparse.SUPPRESS)
    return parser


# ----- formatting --------------------------------------------------------------------------------------
COLUMNS = [  # (heading, width)
    ("case", 20), ("cnnkit ms", 10), ("torch ms", 10), ("ratio", 6), ("ck GF/s", 8), ("pt GF/s", 8),
    ("ck %pk", 7), ("pt %pk", 7), ("target", 7), ("status", 7), ("flags", 14), ("note", 0),
]


def _format_ms(seconds) -> str:
    if seconds is None:
        return "-"
    milliseconds = seconds * 1e3
    if milliseconds < 10:
        return f"{milliseconds:.2f}"
    if milliseconds < 100:
        return f"{milliseconds:.1f}"
    return f"{milliseconds:.0f}"


def _format_number(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def _format_row(cells) -> str:
    parts = []
    for (heading, width), cell in zip(COLUMNS, cells):
        text = str(cell)
        if width == 0:
            parts.append(text)
        elif heading == "case" or heading == "flags":
            parts.append(text.ljust(width))
        else:
            parts.append(text.rjust(width))
    return "  ".join(parts).rstrip()


def _print(text: str = "") -> None:
    print(text, flush=True)


def _blas_line(pool: dict) -> str:
    name = pool.get("internal_api", "?")
    details = [f"version {pool['version']}" if pool.get("version") else None,
               f"kernel {pool['architecture']}" if pool.get("architecture") else None,
               f"{pool['threading_layer']} threading" if pool.get("threading_layer") else None]
    detail_text = ", ".join(detail for detail in details if detail)
    return (f"  {pool.get('user_api', '?')}: {name} ({pool.get('prefix', '?')}) "
            f"{pool.get('num_threads')} threads" + (f"; {detail_text}" if detail_text else ""))


# ----- running -----------------------------------------------------------------------------------------
def _time_case(case, settings: dict, threads: int) -> dict:
    record = {"name": case.name, "title": case.title, "target": case.target, "note": case.note,
              "flops_per_call": case.flops}
    try:
        prepared = case.build()
        comparison = compare(prepared.cnnkit, prepared.torch, repeats=settings["repeats"],
                             warmup=settings["warmup"], min_sample_seconds=settings["min_sample_seconds"],
                             threads=threads)
    except Exception as error:  # a case that cannot run says why and the others go on
        record["error"] = f"{type(error).__name__}: {error}"
        return record
    cnnkit_seconds, torch_seconds = comparison.cnnkit.median, comparison.torch.median
    ratio = comparison.ratio
    flags = list(comparison.flags)
    if prepared.check.startswith("MISMATCH"):
        flags.insert(0, "MISMATCH")
    cnnkit_rate, torch_rate = gflops(case.flops, cnnkit_seconds), gflops(case.flops, torch_seconds)
    record.update(
        cnnkit_ms=cnnkit_seconds * 1e3, torch_ms=torch_seconds * 1e3, ratio=ratio,
        cnnkit_gflops=cnnkit_rate, torch_gflops=torch_rate,
        status="invalid" if "MISMATCH" in flags else target_status(ratio, case.target),
        flags=flags, check=prepared.check,
        load_averages=comparison.load_averages, settle_s=comparison.settle_seconds,
        cnnkit=comparison.cnnkit.to_dict(), torch=comparison.torch.to_dict(),
    )
    if prepared.items_per_call:
        record["cnnkit_items_per_s"] = prepared.items_per_call / cnnkit_seconds
        record["torch_items_per_s"] = prepared.items_per_call / torch_seconds
        record["note"] = (f"{case.note}; {record['cnnkit_items_per_s']:,.0f} vs "
                          f"{record['torch_items_per_s']:,.0f} images/s")
    return record


def _add_peak_fractions(record: dict, peak_gflops: float) -> None:
    for side in ("cnnkit", "torch"):
        rate = record.get(f"{side}_gflops")
        record[f"{side}_peak_fraction"] = None if rate is None else rate / peak_gflops


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _progress_summary(record: dict) -> str:
    if "error" in record:
        return record["error"][:120]
    if "cnnkit_mib" in record:
        return f"cnnkit {record['cnnkit_mib']:.1f} MiB, torch {record['torch_mib']:.1f} MiB"
    return (f"cnnkit {_format_ms(record['cnnkit_ms'] / 1e3)} ms, torch {_format_ms(record['torch_ms'] / 1e3)} ms, "
            f"ratio {record['ratio']:.2f}" + (f" [{','.join(record['flags'])}]" if record["flags"] else ""))


def _row_cells(record: dict):
    if "error" in record:
        return [record["name"], "-", "-", "-", "-", "-", "-", "-", _format_number(record["target"]),
                "error", "", record["error"][:200]]
    peak_percent = [None if record[key] is None else 100 * record[key]
                    for key in ("cnnkit_peak_fraction", "torch_peak_fraction")]
    return [
        record["name"], _format_ms(record["cnnkit_ms"] / 1e3), _format_ms(record["torch_ms"] / 1e3),
        _format_number(record["ratio"], 2), _format_number(record["cnnkit_gflops"]),
        _format_number(record["torch_gflops"]), _format_number(peak_percent[0]), _format_number(peak_percent[1]),
        _format_number(record["target"]), record["status"], ",".join(record["flags"]) or "ok",
        record["note"] + ("" if record["check"] in ("ok", "n/a") else f" [{record['check']}]"),
    ]


def _measure_memory_side(side: str, threads: int) -> dict:
    environment = dict(os.environ)
    environment["MALLOC_MMAP_THRESHOLD_"] = "65536"  # every array > 64 KiB is returned to the OS when freed
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPOSITORY_ROOT)] + ([environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else []))
    command = [sys.executable, "-m", "benchmarks.run", "--memory-child", side, "--threads", str(threads)]
    completed = subprocess.run(command, capture_output=True, text=True, env=environment,
                               timeout=MEMORY_CHILD_TIMEOUT_SECONDS)
    if completed.returncode != 0:
        lines = (completed.stderr or completed.stdout).strip().splitlines()
        raise RuntimeError(f"{side} memory process failed: {lines[-1] if lines else completed.returncode}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _memory_case(case, threads: int) -> dict:
    record = {"name": case.name, "title": case.title, "target": case.target, "note": case.note}
    try:
        sides = {side: _measure_memory_side(side, threads) for side in ("cnnkit", "torch")}
    except Exception as error:
        record["error"] = f"{type(error).__name__}: {error}"
        return record
    cnnkit_mib = sides["cnnkit"]["step_peak_extra_mib"]
    torch_mib = sides["torch"]["step_peak_extra_mib"]
    ratio = cnnkit_mib / torch_mib if torch_mib > 0 else float("inf")
    record.update(cnnkit_mib=cnnkit_mib, torch_mib=torch_mib, ratio=ratio,
                  status=target_status(ratio, case.target), cnnkit=sides["cnnkit"], torch=sides["torch"])
    return record


def _print_memory(record: dict) -> None:
    _print()
    _print("Peak memory of one LeNet-5 training step (batch 128), fresh process per side:")
    if "error" in record:
        _print(f"  error: {record['error']}")
        return
    cnnkit_side, torch_side = record["cnnkit"], record["torch"]
    _print(f"  extra resident memory during the step: cnnkit {record['cnnkit_mib']:.1f} MiB, "
           f"torch {record['torch_mib']:.1f} MiB, ratio {record['ratio']:.2f} "
           f"(target <= {record['target']}: {record['status']})")
    _print(f"  resident before the step (libraries, model, data, optimizer state): "
           f"cnnkit {cnnkit_side['baseline_mib']:.0f} MiB, torch {torch_side['baseline_mib']:.0f} MiB")
    if "tracemalloc_peak_mib" in cnnkit_side:
        _print(f"  cnnkit cross-check, tracemalloc peak of NumPy allocations in a step: "
               f"{cnnkit_side['tracemalloc_peak_mib']:.1f} MiB")
    _print(f"  method: {cnnkit_side['method']}, after one warm-up step, glibc MALLOC_MMAP_THRESHOLD_=65536 "
           "on both sides (freed arrays leave the resident set)")


def _memory_child_main(side: str, threads: int) -> int:
    if side == "torch":
        import torch  # noqa: F401  (imported before the thread limits so they reach its pools)
    with ThreadSettings(threads):
        result = case_module.memory_child(side)
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; see ``build_parser`` for the options. Returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # argparse exits on --help and on bad options
        return int(exit_request.code or 0)
    if args.memory_child:
        return _memory_child_main(args.memory_child, args.threads)
    from cnnkit.backend import keep_freed_memory

    # Both sides allocate and free their activations on every call; with glibc's default policy a
    # freed large array goes back to the system and the next call page-faults it in again, at a cost
    # that depends on the heap's history (PyTorch's VGG-like case measured 72-94 ms from run to run).
    # Keeping freed memory removes that noise for both sides alike; the report says it is on.
    allocator_kept = keep_freed_memory()

    patterns = [part.strip() for option in args.cases for part in option.split(",") if part.strip()]
    all_cases = case_module.build_cases(quick=args.quick)
    if args.list:
        for case in all_cases:
            _print(f"{case.name:20}  {case.title}")
        return 0
    selected = case_module.select_cases(all_cases, patterns)
    if not selected:
        print(f"cnnkit bench: no case name contains {patterns}; --list shows the names.", file=sys.stderr)
        return 2
    try:
        import torch
    except ImportError:
        print("cnnkit bench compares against PyTorch, which is not installed: "
              "pip install 'cnnkit[bench]' (torch==2.13.0).", file=sys.stderr)
        return 2
    import numpy

    import cnnkit

    settings = dict(QUICK_SETTINGS if args.quick else FULL_SETTINGS)
    if args.repeats is not None:
        settings["repeats"] = args.repeats
    started = time.perf_counter()
    mode = "quick" if args.quick else "full"
    records, memory_record = [], None
    with ThreadSettings(args.threads):
        _print(f"cnnkit bench ({mode}): cnnkit {cnnkit.__version__}, PyTorch {torch.__version__}, "
               f"NumPy {numpy.__version__}, Python {platform.python_version()}; {args.threads} threads; "
               f"median of {settings['repeats']} alternated samples after {settings['warmup']} warm-up")
        environment = openblas_environment()
        if environment:
            _print("warning: set in the environment: " + ", ".join(f"{k}={v}" for k, v in environment.items())
                   + " (NumPy may be slow; see benchmarks/README.md)")
        peak = measure_gemm_peak(size=settings["gemm_size"], threads=args.threads)
        _progress(f"GEMM peak {peak['best_gflops']:.0f} GFLOP/s; {len(selected)} cases")
        for number, case in enumerate(selected, start=1):
            if case.kind == "memory":
                memory_record = _memory_case(case, args.threads)
                record = memory_record
            else:
                record = _time_case(case, settings, args.threads)
                records.append(record)
            _progress(f"[{number}/{len(selected)}] {case.name}: " + _progress_summary(record)
                      + f" ({time.perf_counter() - started:.0f} s)")
        peak_after = measure_gemm_peak(size=settings["gemm_size"], threads=args.threads)
        blas = blas_report()
        torch_threads = torch.get_num_threads()
        torch_interop_threads = torch.get_num_interop_threads()
    elapsed = time.perf_counter() - started
    # The reference for the % of peak columns: the better of the two measurements, so that a peak
    # measured while another process held the cores does not inflate every percentage.
    reference_peak = max(peak["best_gflops"], peak_after["best_gflops"])
    for record in records:
        _add_peak_fractions(record, reference_peak)

    _print()
    _print(_format_row([heading for heading, _ in COLUMNS]))
    for record in records:
        _print(_format_row(_row_cells(record)))
    if memory_record is not None:
        _print_memory(memory_record)
    _print()
    _print(f"float32 GEMM peak (NumPy {peak['size']}^3, best of {peak['repeats']}): "
           f"{peak['best_gflops']:.0f} GFLOP/s at the start"
           + (" (busy: disturbed)" if peak["disturbed"] else "")
           + f", {peak_after['best_gflops']:.0f} at the end" + (" (busy: disturbed)" if peak_after["disturbed"] else "")
           + f"; % of peak columns use {reference_peak:.0f}"
           + ("; the two differ by more than 20%: the machine's speed changed during the run"
              if abs(peak_after["best_gflops"] / peak["best_gflops"] - 1) > 0.2 else ""))
    _print("OpenBLAS environment: " + (", ".join(f"{k}={v}" for k, v in environment.items()) or "none set"))
    _print("Allocator: " + ("freed memory kept for reuse (cnnkit.backend.keep_freed_memory), both sides"
                            if allocator_kept else "the C library's default policy"))
    _print("BLAS and thread pools during the run (threadpoolctl):")
    for pool in blas:
        _print(_blas_line(pool))
    _print(f"  torch: {torch_threads} intra-op threads ({torch_interop_threads} inter-op); "
           f"requested --threads {args.threads}")
    _print(f"Flags: spread = (max-min)/median > {SPREAD_LIMIT}; busy = CPU/wall < {BUSY_LIMIT} (another "
           f"process took the cores); load = load average > threads + {LOAD_MARGIN}; "
           "MISMATCH = the two sides disagree. Ratio = cnnkit/torch time; targets apply to fwd+bwd rows.")
    _print(f"Total {elapsed:.0f} s.")

    errors = [record["name"] for record in records if "error" in record]
    if memory_record is not None and "error" in memory_record:
        errors.append(memory_record["name"])
    if args.json:
        report = {
            "format": "cnnkit-bench/1", "mode": mode, "threads": args.threads, "settings": settings,
            "versions": {"cnnkit": cnnkit.__version__, "torch": torch.__version__, "numpy": numpy.__version__,
                         "python": platform.python_version()},
            "machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "cpu_count": os.cpu_count()},
            "gemm_peak": peak, "gemm_peak_at_end": peak_after, "reference_peak_gflops": reference_peak, "blas": blas, "openblas_environment": environment, "allocator_keeps_freed_memory": allocator_kept,
            "torch_threads": {"intra_op": torch_threads, "inter_op": torch_interop_threads},
            "cases": records, "memory": memory_record, "errors": errors, "elapsed_s": elapsed,
        }
        with open(args.json, "w") as handle:
            json.dump(_finite(report), handle, indent=1, allow_nan=False, default=_json_default)
            handle.write("\n")
    return 1 if errors else 0


def _finite(value):
    """The report with every non-finite float (an infinite ratio) replaced by None, for strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _json_default(value):
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
