// SPDX-License-Identifier: MIT
// Uses the installed headers and library: a Lock and the waiting layer, and the version header.
#include <tandem/threading/lock.hpp>
#include <tandem/version.hpp>

#include <cstdio>
#include <mutex>
#include <thread>

int main() {
  tandem::Lock lock;
  long n = 0;
  std::thread t([&] {
    for (int i = 0; i < 1000; ++i) {
      std::lock_guard g(lock);
      ++n;
    }
  });
  for (int i = 0; i < 1000; ++i) {
    std::lock_guard g(lock);
    ++n;
  }
  t.join();
  std::printf("consumer ok %ld (tandem %s)\n", n, TANDEM_VERSION_STRING);
  return n == 2000 ? 0 : 1;
}
