// SPDX-License-Identifier: MIT
// ch11_03 — two threads share a value under a mutex lock (the seed chapter's ch11_03.py).
//
// Fixed from the seed: each thread's `self.running` flag was written by the main thread and
// read by the worker without synchronisation, and join(2) could give up mid-sleep; here
// stop() requests a stop on the thread's stop token, which the stop-aware sleep obeys at
// once. `value` is only touched with value_lock held (std::lock_guard is Python's `with`).
#include <mutex>
#include <string>

#include <tandem/threading.hpp>

#include "common/demo.hpp"

using namespace std::chrono_literals;

int value = 0;  // guarded by value_lock

class MyThread : public tandem::Thread {
 public:
  MyThread(std::string name, tandem::Lock& o_lock)
      : Thread({.name = std::move(name)}), value_lock(o_lock) {}
  ~MyThread() override {
    request_stop();
    if (is_alive()) join();
  }

  void stop() {
    demo::print("stopping ", name());
    request_stop();  // self.running = False
    join(2s);
  }

 protected:
  void run() override {
    auto running = stop_token();
    while (!running.stop_requested()) {
      {
        std::lock_guard guard(value_lock);
        value += 1;
        demo::print("value:", value, " from ", name());
      }
      demo::sleep(2s, running);
    }
  }

 private:
  tandem::Lock& value_lock;
};

int main(int argc, char** argv) {
  demo::init(argc, argv,
             "11.3.1 Mutex locks: two threads add to one value, taking turns under a Lock");
  tandem::Lock value_lock;
  MyThread my_thread1("Thread 1", value_lock);
  my_thread1.set_daemon(true);
  MyThread my_thread2("Thread 2", value_lock);
  my_thread2.set_daemon(true);
  my_thread1.start();
  my_thread2.start();
  demo::input("Press Enter to stop...");
  my_thread1.stop();
  my_thread2.stop();
}
