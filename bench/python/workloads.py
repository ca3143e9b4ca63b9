#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
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


def timers_workload(scale):
    """sched.scheduler: N events with random delays in [0, 100 ms] entered, then run()."""
    import random
    import sched
    n = max(100, int(100_000 * scale))
    rng = random.Random(42)
    ds = [rng.randint(0, 100_000) / 1e6 for _ in range(n)]
    left = [n]

    def fire():
        left[0] -= 1

    s = sched.scheduler()
    t0 = time.perf_counter()
    for d in ds:
        s.enter(d, 0, fire)
    s.run()
    secs = time.perf_counter() - t0
    assert left[0] == 0, "not every event ran"
    return n / secs, "timers/s"


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


# ---- multiprocessing (tandem's side: bench/compare/mp_workload.cpp, mp_start_workload.cpp).
# Process targets are module-level functions: spawn and forkserver children import this file
# (as __mp_main__) and find them by name.

def _pp_task(a, b, c):
    return a * b * 10 - c * 2


def _pp_square(a):
    return a * 3


def _pp_submit(n):
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as ex:
        ex.submit(_pp_task, 0, 0, 0).result()
        ex.submit(_pp_task, 0, 0, 0).result()
        t0 = time.perf_counter()
        fs = [ex.submit(_pp_task, i, 3, 7) for i in range(n)]
        total = sum(f.result() for f in fs)
        secs = time.perf_counter() - t0
    assert total == sum(_pp_task(i, 3, 7) for i in range(n)), "wrong checksum"
    return n / secs, "tasks/s"


def process_pool_workload(scale):
    """ProcessPoolExecutor(2) (fork): submit N trivial tasks, keep the futures, sum the results."""
    return _pp_submit(max(100, int(20_000 * scale)))


def process_pool_map_workload(scale):
    """ProcessPoolExecutor(2) (fork): map over N items with chunksize 1000, sum the results."""
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing
    n = max(1000, int(1_000_000 * scale))
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as ex:
        ex.submit(_pp_task, 0, 0, 0).result()
        t0 = time.perf_counter()
        total = sum(ex.map(_pp_square, range(n), chunksize=1000))
        secs = time.perf_counter() - t0
    assert total == sum(i * 3 for i in range(n)), "wrong checksum"
    return n / secs, "tasks/s"


def _pipe_echo(conn, other, n):
    other.close()
    for _ in range(n + 1):
        conn.send_bytes(conn.recv_bytes())


def mp_pipe_round_trip_workload(scale):
    """multiprocessing.Pipe() to a forked child that echoes: 8-byte send_bytes/recv_bytes."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    n = max(100, int(20_000 * scale))
    a, b = ctx.Pipe()
    p = ctx.Process(target=_pipe_echo, args=(b, a, n))
    p.start()
    msg = (0).to_bytes(8, "little")
    a.send_bytes(msg)
    assert a.recv_bytes() == msg
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        msg = i.to_bytes(8, "little")
        a.send_bytes(msg)
        if a.recv_bytes() != msg:
            raise AssertionError("wrong echo")
    secs = time.perf_counter() - t0
    p.join()
    assert p.exitcode == 0
    return secs / n * 1e6, "us/rt"


def _mp_pool_rate(n, run):
    """multiprocessing.Pool(2) (fork), warmed up: run(pool, n) returns the sum; tasks/s."""
    import multiprocessing
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_pp_square, range(2), 1)
        t0 = time.perf_counter()
        total = run(pool, n)
        secs = time.perf_counter() - t0
    assert total == sum(i * 3 for i in range(n)), "wrong checksum"
    return n / secs, "tasks/s"


def mp_pool_map_workload(scale):
    """multiprocessing.Pool(2) (fork): map over N items with chunksize 1000, sum the results."""
    return _mp_pool_rate(max(1000, int(1_000_000 * scale)),
                         lambda pool, n: sum(pool.map(_pp_square, range(n), 1000)))


def mp_pool_imap_unordered_workload(scale):
    """multiprocessing.Pool(2) (fork): imap_unordered over N items, chunksize 1, summed."""
    return _mp_pool_rate(max(100, int(20_000 * scale)),
                         lambda pool, n: sum(pool.imap_unordered(_pp_square, range(n), 1)))


def _mp_increments(v, gate, n):
    gate.wait()
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def mp_value_workload(scale):
    """2 processes (fork), each N/2 `with v.get_lock(): v.value += 1` on Value('i', lock=True)."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    n = max(100, int(200_000 * scale)) // 2 * 2
    v = ctx.Value("i", 0, lock=True)
    gate = ctx.Barrier(3)
    procs = [ctx.Process(target=_mp_increments, args=(v, gate, n // 2)) for _ in range(2)]
    for p in procs:
        p.start()
    gate.wait()
    t0 = time.perf_counter()
    for p in procs:
        p.join()
    secs = time.perf_counter() - t0
    assert v.value == n, "lost increments"
    return n / secs, "ops/s"


def _mp_produce(q, msg, n):
    for _ in range(n):
        q.put(msg)


def _mp_stream(ctx, q, msg, n):
    """1 producer process puts n messages, this process gets them; start..join timed."""
    p = ctx.Process(target=_mp_produce, args=(q, msg, n))
    t0 = time.perf_counter()
    p.start()
    total = 0
    for _ in range(n):
        total += len(q.get())
    p.join()
    secs = time.perf_counter() - t0
    assert total == n * len(msg) and p.exitcode == 0, "lost messages"
    return n / secs


def mp_queue_workload(scale):
    """multiprocessing.Queue(), 1 producer process -> 1 consumer, 64-byte bytes messages."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    n = max(100, int(100_000 * scale))
    return _mp_stream(ctx, ctx.Queue(), b"x" * 64, n), "msgs/s"


def mp_queue_string_workload(scale):
    """multiprocessing.Queue(), 1 producer process -> 1 consumer, 64-char str messages."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    n = max(100, int(100_000 * scale))
    return _mp_stream(ctx, ctx.Queue(), "x" * 64, n), "msgs/s"


def mp_manager_queue_workload(scale):
    """Manager().Queue(), 1 producer process -> 1 consumer, 64-char str (start-up untimed)."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    n = max(100, int(5_000 * scale))
    with ctx.Manager() as m:
        return _mp_stream(ctx, m.Queue(), "x" * 64, n), "msgs/s"


def _mp_empty():
    pass


def _mp_start(method, k):
    import multiprocessing
    ctx = multiprocessing.get_context(method)
    p = ctx.Process(target=_mp_empty)  # untimed: starts the fork server, imports
    p.start()
    p.join()
    t0 = time.perf_counter()
    for _ in range(k):
        p = ctx.Process(target=_mp_empty)
        p.start()
        p.join()
        assert p.exitcode == 0, "the child failed"
    return (time.perf_counter() - t0) * 1e3 / k, "ms/proc"


def mp_start_fork_workload(scale):
    """Process(target=empty) start + join, fork start method; mean ms per process."""
    return _mp_start("fork", max(3, int(40 * scale)))


def mp_start_forkserver_workload(scale):
    return _mp_start("forkserver", max(3, int(20 * scale)))


def mp_start_spawn_workload(scale):
    return _mp_start("spawn", max(3, int(8 * scale)))


# ---- subprocess (tandem's side: bench/compare/subprocess_workload.cpp).
_ballast = None


def _run_true(scale):
    import subprocess
    k = max(20, int(300 * scale))
    t0 = time.perf_counter()
    for _ in range(k):
        subprocess.run(["/bin/true"], check=True)
    return k / (time.perf_counter() - t0), "runs/s"


def subprocess_run_workload(scale):
    return _run_true(scale)


def subprocess_run_big_workload(scale):
    global _ballast
    if _ballast is None:  # 2 GiB, every page written (a bytearray's zero pages are not)
        _ballast = bytearray(2 << 30)
        for i in range(0, len(_ballast), 4096):
            _ballast[i] = 1
    return _run_true(scale)


def subprocess_communicate_workload(scale):
    import subprocess
    n = (256 << 20) if scale >= 0.2 else (16 << 20)
    data = b"c" * n
    t0 = time.perf_counter()
    p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = p.communicate(data)
    secs = time.perf_counter() - t0
    assert len(out) == n and p.returncode == 0
    return n / 1e6 / secs, "MB/s"


WORKLOADS = {
    "event": ("threading.Event", event_workload),
    "lock": ("threading.Lock", lock_workload),
    "queue": ("queue.Queue", queue_workload),
    "thread pool": ("ThreadPoolExecutor", thread_pool_workload),
    "timers": ("sched.scheduler", timers_workload),
    "pool wake-up": ("ThreadPoolExecutor", pool_wakeup_workload),
    "process pool": ("ProcessPoolExecutor", process_pool_workload),
    "process pool map": ("ProcessPoolExecutor", process_pool_map_workload),
    "mp value": ("multiprocessing.Value", mp_value_workload),
    "mp queue": ("multiprocessing.Queue", mp_queue_workload),
    "mp queue string": ("multiprocessing.Queue", mp_queue_string_workload),
    "mp manager queue": ("Manager().Queue", mp_manager_queue_workload),
    "mp pipe round trip": ("multiprocessing.Pipe", mp_pipe_round_trip_workload),
    "mp pool map": ("multiprocessing.Pool", mp_pool_map_workload),
    "mp pool imap_unordered": ("multiprocessing.Pool", mp_pool_imap_unordered_workload),
    "mp start fork": ("Process (fork)", mp_start_fork_workload),
    "mp start forkserver": ("Process (forkserver)", mp_start_forkserver_workload),
    "mp start spawn": ("Process (spawn)", mp_start_spawn_workload),
    "subprocess run": ("subprocess.run", subprocess_run_workload),
    "subprocess run 2GiB": ("subprocess.run", subprocess_run_big_workload),
    "subprocess communicate": ("Popen.communicate", subprocess_communicate_workload),
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
            # --only WORKLOAD, or a group: "--only mp" keeps every "mp ..." workload.
            if args.only and workload != args.only and not workload.startswith(args.only + " "):
                continue
            value, unit = fn(args.scale)
            print(f"R\t{workload}\t{impl} {name}\t{value:.6g}\t{unit}", flush=True)


if __name__ == "__main__":
    main()
