// SPDX-License-Identifier: MIT
// ch11_07 — two processes increment a shared Value under its lock (the seed chapter's
// ch11_07.py).
//
// Fixed from the seed: as in ch11_06, stop() set `self.running = False` in the parent, which
// the child — a separate process with its own copy — never saw; here stop() calls
// request_stop(), which the child's stop token sees at once. The shared value is an
// mp::Value<int> in shared memory; `std::lock_guard with(shared_data.get_lock())` is
// Python's `with self.shared_data.get_lock():` (a crash-safe, process-shared RLock).
#include <mutex>
#include <string>

#include <tandem/multiprocessing.hpp>

#include "common/demo.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;

class MyProcess : public mp::Process {
 public:
  MyProcess(std::string name, mp::Value<int>& shared_dt)
      : Process({.name = std::move(name)}), shared_data(shared_dt) {}

  void stop() {
    demo::print("stopping ", name());
    request_stop();  // self.running = False — and the child sees it
    join(1s);
  }

 protected:
  void run() override {  // runs in the child
    auto running = stop_token();
    while (!running.stop_requested()) {
      if (!mp::sleep(demo::scaled(1s), running)) break;
      std::lock_guard with(shared_data.get_lock());
      shared_data.value() += 1;
      demo::print("value:", shared_data.value(), " from ", name());
    }
  }

 private:
  mp::Value<int>& shared_data;
};

int main(int argc, char** argv) {
  mp::init(argc, argv);
  demo::init(argc, argv,
             "11.5.2 Synchronizing processes: two processes add to a shared Value under its lock");
  mp::Value<int> shared_data(0, /*lock=*/true);
  MyProcess my_process1("Process 1", shared_data);
  my_process1.set_daemon(true);
  MyProcess my_process2("Process 2", shared_data);
  my_process2.set_daemon(true);
  my_process1.start();
  my_process2.start();
  demo::input("Press Enter to stop...");
  my_process1.stop();
  my_process2.stop();
}
