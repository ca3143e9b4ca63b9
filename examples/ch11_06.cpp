// SPDX-License-Identifier: MIT
// ch11_06 — a Process subclass with run() and stop() (the seed chapter's ch11_06.py).
//
// Fixed from the seed: stop() set `self.running = False` in the parent, but the child is a
// separate process holding its own copy of the object, so the Python child never saw it —
// it counted on until join(1) gave up and the daemon child was killed at exit. Here stop()
// calls request_stop(), which sets a flag in memory shared with the child: the child's
// stop token sees it and the stop-aware sleep wakes at once, so join(1s) really joins.
#include <tandem/multiprocessing.hpp>

#include "common/demo.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;

class MyProcess : public mp::Process {
 public:
  void stop() {
    demo::print("stopping process...");
    request_stop();  // self.running = False — and the child sees it
    join(1s);
  }

 protected:
  void run() override {  // runs in the child
    int counter = 0;
    auto running = stop_token();
    while (!running.stop_requested()) {
      demo::print("counter:", counter);
      mp::sleep(demo::scaled(2s), running);
      counter += 1;
    }
  }
};

int main(int argc, char** argv) {
  mp::init(argc, argv);
  demo::init(argc, argv,
             "11.5.1 Process: a counter runs in a child process (multiprocessing.Process)");
  MyProcess my_process;
  my_process.set_daemon(true);
  my_process.start();
  demo::input("Press Enter to stop...");
  my_process.stop();
}
