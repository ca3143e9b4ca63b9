// SPDX-License-Identifier: MIT
// Compile-fail cases for tandem::serialize (registered by tests/CMakeLists.txt: each
// `FAIL_CASE n regex` line below is a CTest that compiles this file with -DFAIL_CASE=n and
// passes when the compiler's output matches the regex; case 0 must compile).
// FAIL_CASE 1 tandem::serialize: type T is not serializable: give it `template <class Ar> void serialize\(Ar&\)`
// FAIL_CASE 2 tandem::serialize: type T is not serializable.*raw pointers cannot cross a process boundary
// FAIL_CASE 3 tandem::deserialize: type T is not deserializable
// FAIL_CASE 4 tandem::serialize: type T is not serializable
// FAIL_CASE 5 tandem::serialize: type T is not serializable
// FAIL_CASE 6 tandem::deserialize: type T is not deserializable
#include <string>
#include <string_view>
#include <vector>

#include "tandem/serialize.hpp"

struct WithPointer {
  int id;
  const char* name;  // an address means nothing in another process
};

class Opaque {  // private members and no serialize(): cannot be taken apart
 public:
  explicit Opaque(int v) : v_(v) {}
  int v() const { return v_; }

 private:
  int v_;
};

struct SendsPointer {
  int* p = nullptr;
  template <class Ar>
  void serialize(Ar& ar) {
    ar(p);
  }
};

int main() {
#if FAIL_CASE == 0
  (void)tandem::serialize(std::vector<int>{1, 2});
  (void)tandem::deserialize<std::string>(tandem::serialize(std::string_view("ok")));
#elif FAIL_CASE == 1
  int x = 0;
  (void)tandem::serialize(&x);
#elif FAIL_CASE == 2
  (void)tandem::serialize(WithPointer{1, "x"});
#elif FAIL_CASE == 3
  (void)tandem::deserialize<std::string_view>(tandem::serialize(std::string("x")));
#elif FAIL_CASE == 4
  (void)tandem::serialize(SendsPointer{});
#elif FAIL_CASE == 5
  (void)tandem::serialize(std::vector<Opaque>{Opaque(1)});
#elif FAIL_CASE == 6
  (void)tandem::deserialize<std::vector<const int*>>(std::vector<std::byte>{});
#endif
}
