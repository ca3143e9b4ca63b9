// SPDX-License-Identifier: MIT
// ch11_08 — parallel tasks on a ThreadPoolExecutor (the seed chapter's ch11_08.py).
//
// The executor's block is Python's `with` statement: its destructor waits for every task.
// Fixed from the seed: it prints the results with `while not q.empty(): print(q.get())`,
// which can block forever if another consumer takes the last item between empty() and get().
// Here try_get() tests and takes in one step.
#include <chrono>
#include <random>

#include <tandem/futures.hpp>
#include <tandem/queue.hpp>

#include "common/demo.hpp"

using namespace std::chrono_literals;

// One generator per thread: perform() runs on several workers at once.
int randint(int lo, int hi) {
  thread_local std::mt19937 rng(std::random_device{}());
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}
double uniform(double lo, double hi) {
  thread_local std::mt19937 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

void perform(tandem::Queue<int>& q, int a, int b, int c) {
  double rand_val = uniform(0, 2);
  int res = a * b * 10 - c * 2;
  demo::sleep(tandem::duration(rand_val));
  q.put(res);
}

int main(int argc, char** argv) {
  demo::init(argc, argv,
             "11.6.1 ThreadPoolExecutor: 14 tasks on 3 threads put their results in a Queue");
  auto t1 = std::chrono::steady_clock::now();
  tandem::Queue<int> q;
  {
    tandem::ThreadPoolExecutor executor(3);
    for (int i = 1; i < 15; ++i) {
      int val_a = randint(1, 10);
      int val_b = randint(1, 10);
      int val_c = randint(1, 10);
      executor.submit(perform, std::ref(q), val_a, val_b, val_c);
    }
  }
  demo::print("Print results");
  auto t2 = std::chrono::steady_clock::now();
  while (auto res = q.try_get()) demo::print(*res);
  std::chrono::duration<double> t = t2 - t1;
  demo::print("total time:", t.count(), "seconds");
}
