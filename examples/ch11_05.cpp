// SPDX-License-Identifier: MIT
// ch11_05 — three workers share a queue of 15 jobs (the seed chapter's ch11_05.py).
//
// Fixed from the seed: its workers did `if q.empty(): stop` and then `q.get()`, a race —
// another worker can take the last job between the two calls, and the get() then blocks
// forever. Here the check and the take are one step: try_get() returns the job, or nothing
// when the queue is empty (get_nowait() would do the same with an Empty exception).
#include <optional>
#include <string>

#include <tandem/queue.hpp>
#include <tandem/threading.hpp>

#include "common/demo.hpp"

using namespace std::chrono_literals;

class Worker : public tandem::Thread {
 public:
  Worker(std::string name, tandem::Queue<int>& q) : Thread({.name = std::move(name)}), q(q) {}
  ~Worker() override {
    request_stop();
    if (is_alive()) join();
  }

 protected:
  void run() override {
    while (true) {
      std::optional<int> job = q.try_get();  // the seed's q.empty() + q.get(), without the race
      if (!job) {
        demo::print("thread stopped");
        break;
      }
      demo::print("run job", *job, " from", name());
      demo::sleep(1s, stop_token());
      q.task_done();
    }
  }

 private:
  tandem::Queue<int>& q;
};

int main(int argc, char** argv) {
  demo::init(argc, argv,
             "11.4 Queue: three worker threads share a Queue of 15 jobs");
  tandem::Queue<int> q;
  // generate jobs
  demo::print("populate jobs");
  for (int i = 0; i < 15; ++i) q.put(i);
  Worker my_thread1("Thread 1", q);
  my_thread1.set_daemon(true);
  Worker my_thread2("Thread 2", q);
  my_thread2.set_daemon(true);
  Worker my_thread3("Thread 3", q);
  my_thread3.set_daemon(true);
  my_thread1.start();
  my_thread2.start();
  my_thread3.start();
  my_thread1.join();
  my_thread2.join();
  my_thread3.join();
  demo::input("Press Enter to stop...");
  demo::print("Done all");
}
