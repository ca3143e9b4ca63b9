#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""CPython's side of bench/multiprocessing/mp_queue_bench.cpp: 1 producer process ->
1 consumer process through multiprocessing.Queue (and SimpleQueue), 64-byte bytes messages.
Prints one line per workload: name, messages, seconds, msgs/s."""
import multiprocessing as mp
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
MSG = b"x" * 64


def produce(q, n):
    for _ in range(n):
        q.put(MSG)


def run(name, q):
    p = mp.Process(target=produce, args=(q, N))
    t0 = time.perf_counter()
    p.start()
    for _ in range(N):
        q.get()
    p.join()
    dt = time.perf_counter() - t0
    print(f"{name}\t{N}\t{dt:.3f}\t{N / dt:,.0f} msgs/s", flush=True)


if __name__ == "__main__":
    mp.set_start_method("fork")
    run(f"python{sys.version_info[0]}.{sys.version_info[1]} multiprocessing.Queue()", mp.Queue())
    run(f"python{sys.version_info[0]}.{sys.version_info[1]} multiprocessing.Queue(1024)", mp.Queue(1024))
    run(f"python{sys.version_info[0]}.{sys.version_info[1]} multiprocessing.SimpleQueue()", mp.SimpleQueue())
