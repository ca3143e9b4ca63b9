#!/usr/bin/env python3
"""CPython's own modules on tandem_compare's workloads (bench/compare/*_workload.cpp).

    python3 workloads.py [--rounds R] [--first-round K] [--scale X] [--only WORKLOAD]

Prints the same "R<tab>workload<tab>contender<tab>value<tab>unit" lines as tandem_compare,
so bench/compare/compare.py can put Python beside tandem. The workloads are the same shape;
only the sizes are smaller (Python is ~100x slower), the figures being rates or means.
"""
import argparse
import queue
import sys
import threading
import time


def lock_workload(scale):
    """2 threads, each doing N/2 increments of a shared counter under threading.Lock."""
    n = max(100, int(400_000 * scale)) // 2 * 2
    lock = threading.Lock()
    box = [0]
    gate = threading.Barrier(3)

    def body():
        gate.wait()
        for _ in range(n // 2):
            with lock:
                box[0] += 1

    threads = [threading.Thread(target=body) for _ in range(2)]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    assert box[0] == n, "lost increments"
    return n / secs, "ops/s"


def event_workload(scale):
    """Ping-pong between 2 threads over two threading.Events; mean round trip in us."""
    n = max(100, int(4_000 * scale))
    ping, pong = threading.Event(), threading.Event()
    gate = threading.Barrier(3)

    def a_side():
        gate.wait()
        for _ in range(n):
            ping.set()
            pong.wait()
            pong.clear()

    def b_side():
        gate.wait()
        for _ in range(n):
            ping.wait()
            ping.clear()
            pong.set()

    threads = [threading.Thread(target=a_side), threading.Thread(target=b_side)]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return (time.perf_counter() - t0) * 1e6 / n, "us/rt"


def queue_workload(scale):
    """queue.Queue(1024), 2 producers / 2 consumers, task_done on every item, join()."""
    n = max(100, int(100_000 * scale)) // 4 * 4
    q = queue.Queue(1024)
    half = n // 2
    sums = []
    gate = threading.Barrier(5)

    def producer(first):
        gate.wait()
        put = q.put
        for i in range(half):
            put(first + i)

    def consumer():
        gate.wait()
        get, done = q.get, q.task_done
        local = 0
        for _ in range(half):
            local += get()
            done()
        sums.append(local)

    threads = [threading.Thread(target=producer, args=(0,)),
               threading.Thread(target=producer, args=(1,)),
               threading.Thread(target=consumer), threading.Thread(target=consumer)]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    q.join()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    assert sum(sums) == half * half, "wrong checksum"
    return n / secs, "items/s"


def thread_pool_workload(scale):
    """ThreadPoolExecutor(2): submit N tasks a*b*10 - c*2, keep the futures, sum the results."""
    from concurrent.futures import ThreadPoolExecutor
    n = max(100, int(20_000 * scale))

    def task(a, b, c):
        return a * b * 10 - c * 2

    with ThreadPoolExecutor(max_workers=2) as ex:
        ex.submit(task, 0, 0, 0).result()
        t0 = time.perf_counter()
        fs = [ex.submit(task, i, 3, 7) for i in range(n)]
        total = sum(f.result() for f in fs)
        secs = time.perf_counter() - t0
    assert total == sum(task(i, 3, 7) for i in range(n)), "wrong checksum"
    return n / secs, "tasks/s"


def pool_wakeup_workload(scale):
    """An idle ThreadPoolExecutor(2) gets one task: submit -> task start, mean in us."""
    from concurrent.futures import ThreadPoolExecutor
    n = max(20, int(300 * scale))
    total = 0.0
    with ThreadPoolExecutor(max_workers=2) as ex:
        ex.submit(lambda: None).result()
        for _ in range(n):
            time.sleep(0.002)
            t0 = time.perf_counter()
            total += ex.submit(lambda: time.perf_counter() - t0).result()
    return total * 1e6 / n, "us/rt"


WORKLOADS = {
    "event": ("threading.Event", event_workload),
    "lock": ("threading.Lock", lock_workload),
    "queue": ("queue.Queue", queue_workload),
    "thread pool": ("ThreadPoolExecutor", thread_pool_workload),
    "pool wake-up": ("ThreadPoolExecutor", pool_wakeup_workload),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--first-round", type=int, default=0)  # accepted for symmetry
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--only")
    args = ap.parse_args()
    impl = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for _ in range(args.rounds):
        for workload, (name, fn) in sorted(WORKLOADS.items()):
            if args.only and workload != args.only:
                continue
            value, unit = fn(args.scale)
            print(f"R\t{workload}\t{impl} {name}\t{value:.6g}\t{unit}", flush=True)


if __name__ == "__main__":
    main()
