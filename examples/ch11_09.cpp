// SPDX-License-Identifier: MIT
// ch11_09 — parallel tasks on a ProcessPoolExecutor, with a Manager queue handed to every task
// (the seed chapter's ch11_09.py).
//
// The executor's block is Python's `with` statement: its destructor waits for every task.
// perform() runs in worker processes: it gets the queue's handle by value (a Manager handle
// is serializable, so it crosses into a worker that started before the queue existed).
// Fixed from the seed: it prints the results with `while not q.empty(): print(q.get())`,
// which can block forever if another consumer takes the last item between empty() and get().
// Here try_get() tests and takes in one step.
#include <chrono>
#include <random>

#include <tandem/multiprocessing.hpp>
#include <tandem/process_pool.hpp>

#include "common/demo.hpp"

using namespace std::chrono_literals;

// One generator per process (and per thread): perform() runs in several workers at once.
int randint(int lo, int hi) {
  thread_local std::mt19937 rng(std::random_device{}());
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}
double uniform(double lo, double hi) {
  thread_local std::mt19937 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

void perform(tandem::mp::QueueProxy<int> q, int a, int b, int c) {
  double rand_val = uniform(0, 2);
  int res = a * b * 10 - c * 2;
  demo::sleep(tandem::duration(rand_val));
  q.put(res);
}

int main(int argc, char** argv) {
  tandem::mp::init(argc, argv);
  demo::init(argc, argv,
             "11.6.2 ProcessPoolExecutor: 14 tasks on 3 processes, "
             "results through a Manager's Queue");
  auto t1 = std::chrono::steady_clock::now();
  tandem::mp::Manager m;
  auto q = m.Queue<int>();
  {
    tandem::ProcessPoolExecutor executor(3);
    for (int i = 1; i < 15; ++i) {
      int val_a = randint(1, 10);
      int val_b = randint(1, 10);
      int val_c = randint(1, 10);
      executor.submit(perform, q, val_a, val_b, val_c);
    }
  }
  demo::print("Print results");
  auto t2 = std::chrono::steady_clock::now();
  while (auto res = q.try_get()) demo::print(*res);
  std::chrono::duration<double> t = t2 - t1;
  demo::print("total time:", t.count(), "seconds");
}
