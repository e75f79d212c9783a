"""cnnkit.kernels.jit: compiled kernels match their plain-Python definitions, call each other, keep
float32 as float32, and numba stays out of ``import cnnkit``."""
import subprocess
import sys

import numpy as np

from cnnkit.kernels.jit import compiled, prange


@compiled
def _scaled(value, factor):
    return value * factor


@compiled
def _scale_rows(x, factor, out):
    for row in prange(x.shape[0]):
        for column in range(x.shape[1]):
            out[row, column] = _scaled(x[row, column], factor)


def test_compiled_kernel_matches_its_python_definition_and_calls_compiled_helpers():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    compiled_out, python_out = np.empty_like(x), np.empty_like(x)
    _scale_rows(x, np.float32(0.5), compiled_out)
    _scale_rows.python_function(x, np.float32(0.5), python_out)  # plain Python: the readable definition
    np.testing.assert_array_equal(compiled_out, python_out)
    np.testing.assert_array_equal(compiled_out, x * np.float32(0.5))
    assert compiled_out.dtype == np.float32


def test_compiled_kernel_serves_float64_too():
    x = np.linspace(0, 1, 6).reshape(2, 3)
    out = np.empty_like(x)
    _scale_rows(x, 3.0, out)
    np.testing.assert_array_equal(out, x * 3.0)
    assert out.dtype == np.float64


def test_import_cnnkit_does_not_import_numba():
    code = "import sys, cnnkit, cnnkit.kernels.conv, cnnkit.kernels.pool; print('numba' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_kernel_still_compiles_where_no_cache_folder_is_writable(monkeypatch):
    """numba refuses ``cache=True`` when it finds no writable folder (a read-only install and no
    home directory): the kernel is then compiled without a cache."""
    import numba

    real_njit = numba.njit
    refused = []

    def njit(*args, **options):
        if options.get("cache"):
            refused.append(options)
            raise RuntimeError("cannot cache function: no locator available")
        return real_njit(*args, **options)

    monkeypatch.setattr(numba, "njit", njit)

    @compiled
    def add_one(x, out):
        for i in prange(x.shape[0]):
            out[i] = x[i] + 1

    out = np.empty(3, np.float32)
    add_one(np.zeros(3, np.float32), out)
    assert refused and out.tolist() == [1.0, 1.0, 1.0]
