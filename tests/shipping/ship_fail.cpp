// SPDX-License-Identifier: MIT
// Compile-fail cases for tandem::shipping::ship: each must fail with its readable message.
// FAIL_CASE 1 a lambda with captures cannot cross a process boundary
// FAIL_CASE 2 an argument type is not tandem::Serializable
// FAIL_CASE 3 takes a parameter by non-const reference
// FAIL_CASE 4 generic lambda
// FAIL_CASE 5 the arguments do not match
// FAIL_CASE 6 result type is not tandem::Serializable
// FAIL_CASE 7 must be a function pointer, a function, a lambda without captures, or a serializable
// FAIL_CASE 8 make it a function object that is tandem::Serializable
#include <string>

#include "tandem/shipping/ship.hpp"

namespace {
int by_value(int x) { return x; }
int takes_pointer(int* p) { return *p; }
void takes_ref(std::string& s) { s += "!"; }
int* returns_pointer(int) { return nullptr; }
struct HoldsPointer {
  int* p;
  int operator()() const { return *p; }
};
struct Functor {
  int operator()(int x) const { return x; }
  int operator()(double x) const { return static_cast<int>(x); }
};
}  // namespace

int main() {
  namespace sh = tandem::shipping;
  [[maybe_unused]] int local = 1;
#if FAIL_CASE == 0
  (void)sh::ship(by_value, 1);
  (void)sh::ship([](const std::string& s) { return s; }, "x");
#elif FAIL_CASE == 1
  (void)sh::ship([local](int x) { return x + local; }, 1);
#elif FAIL_CASE == 2
  (void)sh::ship(takes_pointer, &local);
#elif FAIL_CASE == 3
  (void)sh::ship(takes_ref, std::string("x"));
#elif FAIL_CASE == 4
  (void)sh::ship([](auto x) { return x; }, 1);
#elif FAIL_CASE == 5
  (void)sh::ship(by_value, 1, 2);
#elif FAIL_CASE == 6
  (void)sh::ship(returns_pointer, 1);
#elif FAIL_CASE == 7
  (void)sh::ship(42, 1);
#elif FAIL_CASE == 8
  (void)sh::ship(HoldsPointer{&local});
#endif
  (void)Functor{};
  return 0;
}
