"""``cnnkit.backend.keep_freed_memory``: glibc keeps freed memory for reuse (no page faults when
an array of the same size is allocated again); elsewhere nothing changes."""
import subprocess
import sys

import numpy as np
import pytest

from cnnkit import backend


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_memory_is_kept_and_reused_without_page_faults():
    """In a fresh process: with the setting, allocating and freeing a 64 MiB array again and again
    costs no further page faults (the default policy returns it to the system every time)."""
    code = """
import resource, numpy as np, cnnkit
def faults_of_reallocating():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        array = np.empty(16 * 2**20, np.float32); array.fill(1.0); del array
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
default = faults_of_reallocating()
assert cnnkit.backend.keep_freed_memory() and cnnkit.backend.keep_freed_memory()  # idempotent
faults_of_reallocating()  # the first allocation under the new policy faults once
kept = faults_of_reallocating()
print(default, kept)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    default, kept = map(int, result.stdout.split())
    # 64 MiB is 16,384 pages of 4 KiB, or 32 transparent huge pages of 2 MiB: at least 20 faults a time
    assert default >= 5 * 20 and kept <= default // 10


def test_keep_freed_memory_reports_whether_it_applied():
    assert backend.keep_freed_memory() in (True, False)
    assert isinstance(np.empty(1), np.ndarray)  # the allocator still serves arrays
