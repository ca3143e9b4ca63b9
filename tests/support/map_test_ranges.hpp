// SPDX-License-Identifier: MIT
// Input ranges for the map tests (thread_pool_test, map_range_test).
#pragma once

namespace tandem_test {

// A counting range [from, to) (to < 0: endless). Not std::views::iota: clang 14 cannot use
// libstdc++ 12's ranges, and map() takes any begin()/end() range.
struct Count {
  struct It {
    int v;
    int operator*() const { return v; }
    It& operator++() {
      ++v;
      return *this;
    }
    bool operator==(const It&) const = default;
  };
  int from = 0, to = -1;
  It begin() const { return It{from}; }
  It end() const { return It{to}; }
};

}  // namespace tandem_test
