"""Benchmarks: cnnkit against PyTorch, side by side in one process, on the same data.

- ``harness``: timing (alternation, warm-up, medians), thread settings, the GEMM peak, the BLAS
  report and the flags that mark timings disturbed by other processes.
- ``cases``: what is measured: each case builds the cnnkit side and the PyTorch side from the
  same NumPy arrays.
- ``run``: the command line (``cnnkit bench`` calls ``benchmarks.run.main(argv)``), the table and
  the JSON file.

PyTorch is an optional dependency of the benchmarks only (``pip install cnnkit[bench]``); cnnkit
itself never imports it.
"""
