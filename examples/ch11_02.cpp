// SPDX-License-Identifier: MIT
// ch11_02 — a Thread subclass that overrides run() (the seed chapter's ch11_02.py).
//
// Fixed from the seed: `self.running = False` was an unsynchronised flag and join(2) could
// give up while run() slept; here stop() requests a stop on the thread's stop token, which
// also wakes the sleep, so the thread ends at once. As a subclass's run() uses the object,
// MyThread also stops and joins in its destructor (see <tandem/threading/thread.hpp>).
#include <tandem/threading.hpp>

#include "common/demo.hpp"

using namespace std::chrono_literals;

class MyThread : public tandem::Thread {
 public:
  ~MyThread() override {
    request_stop();
    if (is_alive()) join();
  }

  void stop() {
    demo::print("stopping thread...");
    request_stop();  // self.running = False
    join(2s);
  }

 protected:
  void run() override {
    int counter = 0;
    auto running = stop_token();
    while (!running.stop_requested()) {
      demo::print("counter:", counter);
      demo::sleep(2s, running);
      counter += 1;
    }
  }
};

int main(int argc, char** argv) {
  demo::init(argc, argv,
             "11.2 Threading: a Thread subclass overrides run(); stop() ends it and joins it");
  MyThread my_thread;
  my_thread.set_daemon(true);
  my_thread.start();
  demo::input("Press Enter to stop...");
  my_thread.stop();
}
