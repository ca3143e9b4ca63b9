// SPDX-License-Identifier: MIT
// A short tour of tandem: each stop is one Python idiom and its C++ twin.
#include <tandem/tandem.hpp>

#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <numeric>
#include <string>
#include <vector>

#include "common/demo.hpp"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  demo::init(argc, argv, "a short tour of tandem: each stop is one Python idiom and its C++ twin");
  // Line by line even into a pipe: the progress lines go to stderr, unbuffered, and a log
  // that holds both must show them in the order they were written.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::puts("1. Thread + Lock: four threads add to one counter under a Lock");
  {
    tandem::Lock lock;
    long counter = 0;
    std::deque<tandem::Thread> threads;  // Threads do not move: a deque builds them in place
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] {
        for (int k = 0; k < 100000; ++k) {
          std::lock_guard with(lock);  // `with lock:`
          ++counter;
        }
      });
      threads.back().start();
    }
    for (auto& t : threads) t.join();
    std::printf("   counter = %ld (expected 400000)\n", counter);
  }

  std::puts("2. Queue: producer/consumers with task_done/join and shutdown");
  {
    tandem::Queue<int> q(8);
    long sum = 0;
    tandem::Lock sum_lock;
    std::deque<tandem::Thread> workers;
    for (int i = 0; i < 2; ++i) {
      workers.emplace_back([&] {
        for (int item : q) {  // until shut down and drained
          std::lock_guard with(sum_lock);
          sum += item;
          q.task_done();
        }
      }, tandem::ThreadOptions{.name = "consumer-" + std::to_string(i)});
      workers.back().start();
    }
    for (int i = 1; i <= 1000; ++i) q.put(i);
    q.join();  // every item task_done()
    q.shutdown();
    for (auto& w : workers) w.join();
    std::printf("   sum = %ld (expected 500500)\n", sum);
  }

  std::puts("3. Event + Barrier: start together, meet, go on");
  {
    tandem::Event go;
    tandem::Barrier meet(3, [] { std::puts("   all three arrived (the barrier's action)"); });
    std::deque<tandem::Thread> ts;
    for (int i = 0; i < 3; ++i) {
      ts.emplace_back([&] {
        go.wait();
        meet.wait();
      });
      ts.back().start();
    }
    go.set();
    for (auto& t : ts) t.join();
  }

  std::puts("4. Condition: wait_for a predicate with a timeout");
  {
    tandem::Condition cond;
    int ready = 0;
    tandem::Thread setter([&] {
      std::lock_guard with(cond);
      ready = 42;
      cond.notify_all();
    });
    setter.start();
    {
      std::unique_lock with(cond);
      bool ok = cond.wait_for([&] { return ready != 0; }, 5s);
      std::printf("   ready = %d (in time: %s)\n", ready, ok ? "yes" : "no");
    }
    setter.join();
  }

  std::puts("5. Timer and a cooperative stop");
  {
    tandem::Event fired;
    tandem::Timer timer(10ms, [&] { fired.set(); });
    timer.start();
    std::printf("   timer fired: %s\n", fired.wait(5s) ? "yes" : "no");
    timer.join();

    tandem::Event warmed_up;
    tandem::Thread looper([&](std::stop_token stop) {
      int rounds = 0;
      while (tandem::sleep(1ms, stop))  // false as soon as request_stop() is called
        if (++rounds == 3) warmed_up.set();
      std::printf("   looper stopped when asked, after %s3 rounds\n", rounds >= 3 ? ">= " : "< ");
    });
    looper.start();
    warmed_up.wait(5s);
    looper.request_stop();
    looper.join();
  }

  std::puts("6. concurrent.futures: a pool, futures in completion order, and map");
  {
    tandem::ThreadPoolExecutor executor(2);
    std::vector<tandem::Future<int>> futures;
    for (int i = 1; i <= 5; ++i) futures.push_back(executor.submit([](int x) { return x * x; }, i));
    int total = 0;
    for (auto& f : tandem::as_completed(futures)) total += f.result();
    std::printf("   sum of squares 1..5 = %d (as_completed)\n", total);
    std::vector<int> xs{1, 2, 3, 4};
    std::printf("   map(x * 10):");
    for (int y : executor.map([](int x) { return x * 10; }, xs)) std::printf(" %d", y);
    std::printf("\n");
  }

  std::puts("7. progress: a bar on a terminal, a line per 10% in a log (on stderr)");
  {
    tandem::ThreadPoolExecutor executor(2);
    std::vector<int> inputs(200);
    std::iota(inputs.begin(), inputs.end(), 1);
    auto slow_square = [](int x) {
      demo::sleep(5ms);  // some work to watch: 200 x 5 ms on 2 threads, about half a second
      return long{x} * x;
    };
    long sum = 0;
    // The total (200) comes from the map: its input has a size.
    for (long y : tandem::progress(executor.map(slow_square, inputs), {.desc = "   squares"}))
      sum += y;
    std::printf("   sum of squares 1..200 = %ld (expected 2686700)\n", sum);
  }

  std::puts("8. multiprocessing: two processes add to one shared Value under its lock");
  {
    tandem::mp::Value<long> shared(0);
    std::deque<tandem::mp::Process> procs;
    for (int i = 0; i < 2; ++i) {
      procs.emplace_back([&] {
        for (int k = 0; k < 10000; ++k) {
          std::lock_guard with(shared.get_lock());
          shared.value() += 1;
        }
      });
      procs.back().start();
    }
    for (auto& p : procs) p.join();
    std::printf("   value = %ld (expected 20000), exit codes %d %d\n", shared.value(),
                procs[0].exitcode().value_or(-1), procs[1].exitcode().value_or(-1));
  }

  std::puts("9. Misuse raises what Python raises");
  try {
    tandem::Lock().release();
  } catch (const tandem::RuntimeError& e) {
    std::printf("   RuntimeError: %s\n", e.what());
  }
  try {
    tandem::Queue<int>(1).get_nowait();
  } catch (const tandem::Empty&) {
    std::puts("   queue.Empty from get_nowait() on an empty queue");
  }
  std::puts("tour done");
}
