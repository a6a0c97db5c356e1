"""``nnxp.kernels.cpu.workers.share``: the BLAS kernels' chunks run on Numba's threads.

Each chunk runs once; thread k takes a contiguous run of chunks, in order; an error in
any chunk is raised in the caller's thread; two callers at once never mix their tasks;
on one thread the chunks run in the caller's own thread. In a subprocess that allows 3
Numba threads (``NUMBA_NUM_THREADS``), so that the test means the same on any machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numba")

SCRIPT = textwrap.dedent("""
    import json, threading, time
    import numba
    from nnxp.kernels.cpu import workers

    def record(chunks, out, pause=0.0):
        def run(c):
            time.sleep(pause)  # long enough for every thread to take part
            out.append((c, threading.get_native_id()))
        workers.share(run, chunks)
        return out

    report = {}
    numba.set_num_threads(3)
    ran = record(10, [], 0.01)
    report["chunks"] = sorted(c for c, _ in ran)
    report["runs"] = {str(t): [c for c, who in ran if who == t] for t in {who for _, who in ran}}

    def fail(c):
        if c == 7:
            raise KeyError("chunk 7")
    try:
        workers.share(fail, 9)
        report["error"] = None
    except KeyError as error:
        report["error"] = str(error)

    results = [None, None]
    def caller(index):
        results[index] = sorted(c for c, _ in record(6 + index, [], 0.005))
    callers = [threading.Thread(target=caller, args=(index,)) for index in range(2)]
    [thread.start() for thread in callers]
    [thread.join() for thread in callers]
    report["two callers"] = results

    numba.set_num_threads(1)
    report["one thread"] = {who for _, who in record(4, [])} == {threading.get_native_id()}
    print(json.dumps(report))
""")


def test_share_runs_every_chunk_once_in_runs_and_raises_errors():
    environment = {**os.environ, "NUMBA_NUM_THREADS": "3"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=environment, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["chunks"] == list(range(10))
    runs = sorted(report["runs"].values())
    assert runs == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]], runs  # k * 10 // 3 ... : three threads, in order
    assert report["error"] == "'chunk 7'"
    assert report["two callers"] == [list(range(6)), list(range(7))]
    assert report["one thread"] is True
