// SPDX-License-Identifier: MIT
// ch11_04 — three workers wait for an Event before they start (the seed chapter's ch11_04.py).
//
// Fixed from the seed: its daemon workers could be killed in the middle of their work when
// Enter came early; here each Worker's destructor stops its (stop-aware) sleep and joins it,
// so every "processing" is followed by its "done". (A subclass must stop and join in its
// own destructor anyway: see <tandem/threading/thread.hpp>.)
#include <string>

#include <tandem/threading.hpp>

#include "common/demo.hpp"

using namespace std::chrono_literals;

class Worker : public tandem::Thread {
 public:
  Worker(std::string name, tandem::Event& signal)
      : Thread({.name = std::move(name)}), signal(signal) {}
  ~Worker() override {
    request_stop();
    if (is_alive()) join();
  }

 protected:
  void run() override {
    demo::print("waiting from ", name());
    signal.wait();
    demo::print("processing from ", name());
    demo::sleep(2s, stop_token());
    demo::print("done from ", name());
  }

 private:
  tandem::Event& signal;
};

int main(int argc, char** argv) {
  demo::init(argc, argv,
             "11.3.2 Event: three workers wait on one Event, then all start when it is set");
  tandem::Event signal_event;
  Worker my_thread1("Thread 1", signal_event);
  my_thread1.set_daemon(true);
  Worker my_thread2("Thread 2", signal_event);
  my_thread2.set_daemon(true);
  Worker my_thread3("Thread 3", signal_event);
  my_thread3.set_daemon(true);
  my_thread1.start();
  my_thread2.start();
  my_thread3.start();
  // waiting for 10 seconds
  demo::sleep(10s);
  // start process
  demo::print("Send a signal to start processing");
  signal_event.set();
  demo::input("Press Enter to stop...");
  demo::print("Done all");
}
