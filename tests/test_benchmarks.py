"""The benchmark harness: its statistics on synthetic timings, its bookkeeping, and one quick real run.

No timing is asserted anywhere: the numbers depend on the machine and its load. What is checked is
the arithmetic (medians, spreads, busy ratios, FLOP counts, flags, targets), the alternation of the
two sides, the thread settings, and that a real run writes a complete, valid JSON report.
"""
import json
import math

import numpy as np
import pytest

from benchmarks import harness
from benchmarks.cases import _check, build_cases, relative_error, select_cases
from benchmarks.harness import (
    SideTiming,
    busy_ratio,
    compare,
    conv_flops,
    disturbance_flags,
    gflops,
    median,
    relative_spread,
    target_status,
)


# ----- statistics on synthetic timings --------------------------------------------------------------
def test_median_of_odd_and_even_counts():
    assert median([0.3, 0.1, 0.2]) == pytest.approx(0.2)
    assert median([0.4, 0.1, 0.2, 0.3]) == pytest.approx(0.25)
    assert median([5.0]) == 5.0


def test_median_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="at least one value"):
        median([])


def test_relative_spread_is_range_over_median():
    assert relative_spread([0.10, 0.10, 0.10]) == 0.0
    assert relative_spread([0.09, 0.10, 0.12]) == pytest.approx(0.3)
    assert relative_spread([1.0]) == 0.0


def test_busy_ratio_takes_the_better_of_main_thread_and_process_share():
    # Undisturbed, single thread busy all the time.
    assert busy_ratio(1.0, main_thread_cpu=1.0, process_cpu=1.0, threads=2) == pytest.approx(1.0)
    # Main thread sleeping in a join while two worker threads compute: the process share counts.
    assert busy_ratio(1.0, main_thread_cpu=0.2, process_cpu=2.0, threads=2) == pytest.approx(1.0)
    # Another process took two thirds of the time (as measured with one competing busy loop).
    assert busy_ratio(0.3, main_thread_cpu=0.1, process_cpu=0.2, threads=2) == pytest.approx(1 / 3)
    assert busy_ratio(0.0, 0.0, 0.0, 2) == 1.0


def _side(seconds, busy=None):
    return SideTiming(list(seconds), list(busy if busy is not None else [1.0] * len(seconds)))


def test_no_flags_for_calm_timings():
    calm = _side([0.100, 0.101, 0.099, 0.100, 0.102])
    assert disturbance_flags(calm, calm, load_average=1.8, threads=2) == []


def test_spread_flag_on_either_side():
    calm = _side([0.100, 0.101, 0.099, 0.100, 0.102])
    noisy = _side([0.100, 0.150, 0.099, 0.100, 0.101])
    assert disturbance_flags(noisy, calm, None, 2) == ["spread"]
    assert disturbance_flags(calm, noisy, None, 2) == ["spread"]


def test_busy_flag_when_the_median_sample_lost_the_cpu():
    calm = _side([0.1] * 5)
    starved = _side([0.1] * 5, busy=[0.95, 0.5, 0.4, 0.45, 0.99])
    one_hiccup = _side([0.1] * 5, busy=[0.95, 0.5, 0.97, 0.96, 0.99])
    assert disturbance_flags(calm, starved, None, 2) == ["busy"]
    assert disturbance_flags(one_hiccup, calm, None, 2) == []


def test_load_flag_above_thread_count_plus_margin():
    calm = _side([0.1] * 5)
    assert disturbance_flags(calm, calm, load_average=2.4, threads=2) == []
    assert disturbance_flags(calm, calm, load_average=2.6, threads=2) == ["load"]
    assert disturbance_flags(calm, calm, load_average=2.6, threads=4) == []


def test_all_flags_together_in_a_fixed_order():
    noisy_starved = _side([0.1, 0.2, 0.1], busy=[0.3, 0.3, 0.3])
    assert disturbance_flags(noisy_starved, _side([0.1] * 3), 9.0, 2) == ["spread", "busy", "load"]


def test_side_timing_summary():
    side = SideTiming([0.3, 0.1, 0.2], [1.0, 0.8, 0.9], inner_loops=4)
    summary = side.to_dict()
    assert summary["median_s"] == pytest.approx(0.2)
    assert summary["relative_spread"] == pytest.approx(1.0)
    assert summary["inner_loops"] == 4
    assert side.median_busy == pytest.approx(0.9)


def test_conv_flops_follow_the_issue_formula():
    # LeNet conv1: N=128, 24x24 outputs, 5x5 kernel, 1 -> 6 channels.
    forward = 2 * 128 * 24 * 24 * 25 * 1 * 6
    assert conv_flops(128, (24, 24), (5, 5), 1, 6) == forward
    assert conv_flops(128, (24, 24), (5, 5), 1, 6, passes=3) == 3 * forward
    # Depthwise: Cin / groups = 1.
    assert conv_flops(32, (28, 28), (3, 3), 128, 128, groups=128) == 2 * 32 * 784 * 9 * 1 * 128
    # 1-D.
    assert conv_flops(64, (1024,), (5,), 128, 128) == 2 * 64 * 1024 * 5 * 128 * 128


def test_issue_quoted_rates_are_reproduced_by_the_flop_count():
    # The issue: VGG-like forward+backward "about 170 ms (135 GFLOP/s)", both rounded.
    vgg = conv_flops(32, (56, 56), (3, 3), 64, 64, passes=3)
    assert gflops(vgg, 0.170) == pytest.approx(135, rel=0.05)
    # LeNet conv1 forward+backward 4.8 ms at about 14 GFLOP/s (counted with 3 passes there).
    assert gflops(conv_flops(128, (24, 24), (5, 5), 1, 6, passes=3), 0.0048) == pytest.approx(13.8, rel=0.02)
    assert gflops(None, 1.0) is None and gflops(10, 0.0) is None


def test_target_status():
    assert target_status(0.79, 0.8) == "met"
    assert target_status(0.8, 0.8) == "met"
    assert target_status(0.81, 0.8) == "missed"
    assert target_status(1.0, None) == "-"
    assert target_status(math.inf, 1.0) == "-"


# ----- the timing loop (bookkeeping only) ---------------------------------------------------------------
def test_compare_alternates_sides_and_first_mover_and_settles_at_each_switch(monkeypatch):
    calls = []
    monkeypatch.setattr(harness, "settle", lambda: calls.append("|") or 0.25)
    comparison = compare(lambda: calls.append("c"), lambda: calls.append("t"),
                         repeats=4, warmup=1, min_sample_seconds=0.0, threads=1)
    # warm-up c, t; then pairs whose first side alternates: c t | t c | c t | t c;
    # a settle ("|") wherever the side changes.
    assert "".join(calls) == "c|t|c|tt|cc|tt|c"
    assert comparison.settle_seconds == pytest.approx(6 * 0.25)
    assert len(comparison.cnnkit.seconds) == len(comparison.torch.seconds) == 4
    assert comparison.cnnkit.inner_loops == comparison.torch.inner_loops == 1
    assert comparison.ratio > 0
    assert all(0.0 <= value for value in comparison.cnnkit.busy)
    assert len(comparison.load_averages) == 2


def test_compare_warms_up_each_side_once_only_for_long_calls(monkeypatch):
    monkeypatch.setattr(harness, "settle", lambda: 0.0)
    calls = []
    compare(lambda: calls.append("c"), lambda: calls.append("t"), repeats=1, warmup=3,
            min_sample_seconds=0.0, threads=1)
    assert calls == ["c", "c", "c", "t", "t", "t", "c", "t"]
    calls.clear()
    monkeypatch.setattr(harness, "LONG_CALL_SECONDS", -1.0)  # every call counts as long
    compare(lambda: calls.append("c"), lambda: calls.append("t"), repeats=1, warmup=3,
            min_sample_seconds=0.0, threads=1)
    assert calls == ["c", "t", "c", "t"]


def test_settle_returns_once_the_process_is_idle():
    waited = harness.settle(step=0.001, limit=0.2)
    assert 0.001 <= waited


def test_compare_repeats_tiny_calls_to_fill_a_sample():
    counter = {"cnnkit": 0}

    def tiny():
        counter["cnnkit"] += 1

    comparison = compare(tiny, lambda: None, repeats=2, warmup=1, min_sample_seconds=0.001, threads=1)
    assert comparison.cnnkit.inner_loops > 1
    assert counter["cnnkit"] == 1 + 2 * comparison.cnnkit.inner_loops


def test_compare_rejects_zero_repeats():
    with pytest.raises(ValueError, match="repeats=0"):
        compare(lambda: None, lambda: None, repeats=0)


def test_thread_settings_apply_to_blas_and_torch_and_restore():
    torch = pytest.importorskip("torch")
    from threadpoolctl import threadpool_info

    before_torch = torch.get_num_threads()
    before_blas = [pool["num_threads"] for pool in threadpool_info()]
    with harness.ThreadSettings(1):
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert torch.get_num_threads() == before_torch
    assert [pool["num_threads"] for pool in threadpool_info()] == before_blas


def test_thread_settings_reject_bad_counts():
    with pytest.raises(ValueError, match="threads=0"):
        harness.ThreadSettings(0)


def test_blas_report_names_the_kernel():
    report = harness.blas_report()
    blas = [pool for pool in report if pool.get("user_api") == "blas"]
    assert blas and all("internal_api" in pool and "num_threads" in pool for pool in blas)


def test_gemm_peak_reports_positive_rates():
    peak = harness.measure_gemm_peak(size=128, repeats=2)
    assert peak["best_gflops"] >= peak["median_gflops"] > 0


# ----- cases ----------------------------------------------------------------------------------------------
def test_relative_error_and_check():
    expected = np.array([1.0, -2.0, 4.0], dtype=np.float32)
    assert relative_error(expected, expected) == 0.0
    assert relative_error(expected + np.float32(0.004), expected) == pytest.approx(1e-3, rel=1e-3)
    assert relative_error(expected[:2], expected) == math.inf
    assert _check({"output": (expected, expected)}) == "ok"
    assert _check({"output": (expected, expected), "grad": (expected * 2, expected)}).startswith("MISMATCH grad=")


def test_every_issue_case_is_listed_and_selectable():
    names = [case.name for case in build_cases(quick=False)]
    for stem in ("lenet_conv1", "lenet_conv2", "vgg", "resnet", "strided", "dilated", "depthwise", "conv1x1",
                 "transposed", "conv1d"):
        assert f"{stem}_fwd" in names and f"{stem}_fwdbwd" in names
    for name in ("maxpool_fwdbwd", "avgpool_fwdbwd", "lenet_epoch", "lenet_inference", "lenet_step_memory"):
        assert name in names
    assert len(names) == len(set(names))
    assert [case.name for case in select_cases(build_cases(), ["lenet_conv1"])] == [
        "lenet_conv1_fwd", "lenet_conv1_fwdbwd"]


def test_quick_mode_notes_every_shrunken_batch():
    full = {case.name: case for case in build_cases(quick=False)}
    for case in build_cases(quick=True):
        if case.flops is not None and case.flops != full[case.name].flops:
            assert "quick" in case.note, case.name


# ----- the command line -------------------------------------------------------------------------------
def test_bad_options_exit_with_status_2(capsys):
    from benchmarks.run import main

    assert main(["--threads", "0"]) == 2
    assert main(["--cases", "no_such_case"]) == 2
    assert "no case name contains" in capsys.readouterr().err


def test_list_prints_case_names(capsys):
    from benchmarks.run import main

    assert main(["--list"]) == 0
    assert "vgg_fwdbwd" in capsys.readouterr().out


def test_quick_run_writes_valid_json_with_both_times_and_a_ratio(tmp_path):
    pytest.importorskip("torch")
    from benchmarks.run import main

    report_path = tmp_path / "bench.json"
    status = main(["--quick", "--cases", "lenet_conv1", "--json", str(report_path)])
    report = json.loads(report_path.read_text())
    assert status == 0, report["errors"]
    assert [case["name"] for case in report["cases"]] == ["lenet_conv1_fwd", "lenet_conv1_fwdbwd"]
    for case in report["cases"]:
        assert case["cnnkit_ms"] > 0 and case["torch_ms"] > 0
        assert case["ratio"] == pytest.approx(case["cnnkit_ms"] / case["torch_ms"])
        assert case["check"] == "ok"
        assert len(case["cnnkit"]["samples_s"]) == len(case["torch"]["samples_s"]) == 5
        assert case["status"] in ("met", "missed", "-")
    assert report["cases"][1]["target"] == 0.8
    assert report["threads"] == 2 and report["gemm_peak"]["best_gflops"] > 0
    assert any(pool.get("user_api") == "blas" for pool in report["blas"])


def test_memory_case_measures_both_sides_in_fresh_processes(tmp_path):
    pytest.importorskip("torch")
    from benchmarks.run import main

    report_path = tmp_path / "memory.json"
    status = main(["--quick", "--cases", "lenet_step_memory", "--json", str(report_path)])
    report = json.loads(report_path.read_text())
    assert status == 0, report["errors"]
    memory = report["memory"]
    assert memory["cnnkit"]["side"] == "cnnkit" and memory["torch"]["side"] == "torch"
    for side in ("cnnkit", "torch"):
        assert memory[side]["step_peak_extra_mib"] >= 0
        assert memory[side]["baseline_mib"] > 0
        assert memory[side]["malloc_mmap_threshold"] == "65536"
    assert memory["cnnkit"]["tracemalloc_peak_mib"] > 0
    assert memory["ratio"] == pytest.approx(memory["cnnkit_mib"] / memory["torch_mib"])
    assert memory["status"] in ("met", "missed")
