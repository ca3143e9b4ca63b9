// SPDX-License-Identifier: MIT
// ch11_01 — run a function in a background thread (the seed chapter's ch11_01.py).
//
// Fixed from the seed: it stopped the thread with a global `running = False` that nothing
// synchronised, and join(2) could give up while the thread slept; here the thread's own stop
// token says "stop" and the stop-aware sleep wakes at once, so join() returns promptly.
#include <tandem/threading.hpp>

#include "common/demo.hpp"

using namespace std::chrono_literals;

void perform(std::stop_token running) {
  int counter = 0;
  while (!running.stop_requested()) {
    demo::print("counter:", counter);
    demo::sleep(2s, running);
    counter += 1;
  }
}

int main(int argc, char** argv) {
  demo::init(argc, argv,
             "11.2 Threading: a function runs in a background thread (threading.Thread) "
             "until you press Enter");
  tandem::Thread my_thread(perform, {.daemon = true});
  my_thread.start();
  demo::input("Press Enter to stop...");
  my_thread.request_stop();  // running = False
  my_thread.join(2s);
}
