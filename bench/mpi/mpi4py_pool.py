# SPDX-License-Identifier: MIT
"""mpi4py.futures throughput, the Python half of bench/mpi/run (same workloads as
mpi_pool_compare.cpp). Run in world mode:

    mpirun --oversubscribe -n 3 python3 -m mpi4py.futures bench/mpi/mpi4py_pool.py [--rounds R] [--scale X]

Prints `workload<TAB>tasks/s` lines (medians over R rounds)."""
import statistics
import sys
import time

from mpi4py.futures import MPIPoolExecutor


def add(a, b):
    return a + b


def add_one(a):
    return a + 1


def submit_result(ex, n):
    t0 = time.perf_counter()
    fs = [ex.submit(add, i, 1) for i in range(n)]
    s = sum(f.result() for f in fs)
    secs = time.perf_counter() - t0
    assert s == n * (n + 1) // 2
    return n / secs


def map_chunks(ex, n, chunk):
    t0 = time.perf_counter()
    s = sum(ex.map(add_one, range(n), chunksize=chunk))
    secs = time.perf_counter() - t0
    assert s == n * (n + 1) // 2
    return n / secs


def round_trip(ex, n):
    t0 = time.perf_counter()
    for i in range(n):
        assert ex.submit(add, i, 1).result() == i + 1
    return n / (time.perf_counter() - t0)


def main():
    rounds, scale = 5, 1.0
    args = sys.argv[1:]
    for k in range(0, len(args) - 1, 2):
        if args[k] == "--rounds":
            rounds = max(1, int(args[k + 1]))
        if args[k] == "--scale":
            scale = float(args[k + 1])
    n_of = lambda base: max(1000, int(base * scale))
    sr, m1, m10, rt = [], [], [], []
    with MPIPoolExecutor() as ex:
        submit_result(ex, 2000)  # warm-up
        for _ in range(rounds):
            sr.append(submit_result(ex, n_of(20000)))
            m1.append(map_chunks(ex, n_of(1000000), 1000))
            m10.append(map_chunks(ex, n_of(2000000), 10000))
            rt.append(round_trip(ex, n_of(1000)))
    for name, v in (("submit_result", sr), ("map_chunk1000", m1),
                    ("map_chunk10000", m10), ("round_trip", rt)):
        print(f"{name}\t{statistics.median(v):.0f}")


if __name__ == "__main__":
    main()
