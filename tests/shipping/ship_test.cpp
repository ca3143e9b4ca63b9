// SPDX-License-Identifier: MIT
// tandem::shipping — function identity, the trampoline, outcomes and the exception mapping,
// and corrupt tasks. A worker runs exactly run(task, out); here the worker is this process
// (the offsets are the same as in any process running this binary — the cross-process path
// with a different load base is exercised by tests/multiprocessing/start_methods_test.cpp,
// whose spawned children are fresh execs).
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <new>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "tandem/errors.hpp"
#include "tandem/shipping/build_id.hpp"
#include "tandem/shipping/ship.hpp"

namespace sh = tandem::shipping;

namespace shiptest {

int add(int a, int b) { return a + b; }
std::string greet(const std::string& who, int times) {
  std::string s;
  for (int i = 0; i < times; ++i) s += "hi " + who + ";";
  return s;
}
template <class T>
T twice(T x) {
  return x + x;
}
int g_side_effect = 0;
void set_side_effect(int v) { g_side_effect = v; }
struct Point {
  int x, y;
  std::string label;
};
Point move_point(Point p, std::vector<int> by) {
  p.x += by.at(0);
  p.y += by.at(1);
  p.label += "'";
  return p;
}
int noexcept_fn(int x) noexcept { return -x; }

// Serializable function objects: state travels with the task.
struct Scale {
  double k = 1;
  std::vector<double> operator()(const std::vector<double>& xs) const {
    std::vector<double> out;
    for (double x : xs) out.push_back(k * x);
    return out;
  }
};
struct Tally {  // non-const operator(), a serialize() member
  std::map<std::string, int> seen;
  template <class Ar>
  void serialize(Ar& ar) {
    ar(seen);
  }
  int operator()(std::string key) {
    ++seen[key];
    return seen[key];
  }
};
struct Stateless {  // an empty class: one byte on the wire
  int operator()(int x) const noexcept { return x + 1; }
};
struct HoldsPointer {  // not serializable: cannot be shipped
  int* p = nullptr;
  int operator()() const { return *p; }
};

struct Custom : std::exception {
  const char* what() const noexcept override { return "custom failure"; }
};
struct DerivedRuntime : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class E>
void throw_it(std::string what) {
  throw E(what);
}
void throw_bad_alloc() { throw std::bad_alloc(); }
void throw_custom() { throw Custom(); }
void throw_derived(std::string w) { throw DerivedRuntime(w); }
void throw_int() { throw 42; }
void throw_worker_died() { throw tandem::WorkerDied("worker 7 died", 7, -1, 9); }
void throw_remote() { throw tandem::RemoteError("py::KeyError", "'k'"); }

}  // namespace shiptest

namespace {

template <class R>
R round_trip(const sh::Task& task) {
  // Through bytes, as over a channel.
  const std::vector<std::byte> wire = tandem::serialize(task);
  const auto received = tandem::deserialize<sh::Task>(wire);
  std::vector<std::byte> out;
  sh::run(received, out);
  return sh::take_result<R>(out);
}

TEST(Ship, FreeFunction) { EXPECT_EQ(round_trip<int>(sh::ship(shiptest::add, 2, 3)), 5); }

TEST(Ship, ConvertsArguments) {
  EXPECT_EQ(round_trip<std::string>(sh::ship(shiptest::greet, "bob", 2)), "hi bob;hi bob;");
  EXPECT_EQ(round_trip<int>(sh::ship(&shiptest::add, short{1}, 'a')), 98);
}

TEST(Ship, CaptureLessLambda) {
  auto t = sh::ship([](std::vector<int> v) {
    int s = 0;
    for (int x : v) s += x;
    return s;
  }, std::vector<int>{1, 2, 3, 4});
  EXPECT_EQ(round_trip<int>(t), 10);
  EXPECT_EQ(round_trip<std::string>(sh::ship([]() noexcept { return std::string("x"); })), "x");
}

TEST(Ship, TemplateInstantiations) {
  EXPECT_EQ(round_trip<int>(sh::ship(shiptest::twice<int>, 21)), 42);
  EXPECT_EQ(round_trip<double>(sh::ship(&shiptest::twice<double>, 1.25)), 2.5);
  EXPECT_EQ(round_trip<std::string>(sh::ship(shiptest::twice<std::string>, std::string("ab"))),
            "abab");
}

TEST(Ship, NoexceptFunctionPointer) {
  EXPECT_EQ(round_trip<int>(sh::ship(shiptest::noexcept_fn, 5)), -5);
}

TEST(Ship, VoidResult) {
  shiptest::g_side_effect = 0;
  round_trip<void>(sh::ship(shiptest::set_side_effect, 17));
  EXPECT_EQ(shiptest::g_side_effect, 17);
}

TEST(Ship, AggregatesAndContainers) {
  const auto p = round_trip<shiptest::Point>(
      sh::ship(shiptest::move_point, shiptest::Point{1, 2, "p"}, std::vector<int>{10, 20}));
  EXPECT_EQ(p.x, 11);
  EXPECT_EQ(p.y, 22);
  EXPECT_EQ(p.label, "p'");
}

TEST(Ship, FunctionObjectTravelsByValue) {
  const std::vector<double> r =
      round_trip<std::vector<double>>(sh::ship(shiptest::Scale{2.5}, std::vector<double>{1, 2}));
  EXPECT_EQ(r, (std::vector<double>{2.5, 5}));
  shiptest::Tally t;
  t.seen["a"] = 4;
  EXPECT_EQ(round_trip<int>(sh::ship(t, "a")), 5);
  EXPECT_EQ(t.seen["a"], 4);  // the sender's object is untouched
  EXPECT_EQ(round_trip<int>(sh::ship(shiptest::Stateless{}, 41)), 42);
  static_assert(std::is_same_v<sh::callee_t<shiptest::Scale>, shiptest::Scale>);
  static_assert(std::is_same_v<sh::callee_t<decltype(&shiptest::add)>, int (*)(int, int)>);
  static_assert(std::is_same_v<sh::shipped_result_t<shiptest::Tally>, int>);
  static_assert(sh::Shippable<shiptest::Tally, const char*>);
  static_assert(!sh::Shippable<shiptest::HoldsPointer>);
}

TEST(ShipCorrupt, CorruptFunctionObjectIsTheTasksDecodeError) {
  sh::Task t = sh::ship(shiptest::Scale{3}, std::vector<double>{1});
  for (std::size_t cut = 1; cut < t.args.size(); ++cut) {
    sh::Task c = t;
    c.args.resize(cut);
    std::vector<std::byte> out;
    sh::run(c, out);
    EXPECT_THROW(sh::take_result<std::vector<double>>(out), tandem::DecodeError) << cut;
  }
}

TEST(Ship, ResultTypeAlias) {
  static_assert(std::is_same_v<sh::shipped_result_t<decltype(&shiptest::add)>, int>);
  static_assert(std::is_same_v<sh::shipped_result_t<decltype(&shiptest::set_side_effect)>, void>);
  static_assert(sh::Shippable<decltype(&shiptest::add), int, int>);
  static_assert(!sh::Shippable<decltype(&shiptest::add), int>);
  int local = 0;
  auto closure = [&local] { return local; };
  static_assert(!sh::Shippable<decltype(closure)>);
  static_assert(!sh::Shippable<void (*)(int*), int*>);
}

TEST(Ship, OffsetsAreRelativeToTheLoadBase) {
  const sh::Task t = sh::ship(shiptest::add, 1, 1);
  const auto& img = sh::executable_image();
  EXPECT_EQ(t.function + img.base, sh::address_of(&shiptest::add));
  EXPECT_GT(img.ranges, 0);
  EXPECT_TRUE(img.contains(img.base + t.trampoline));
}

// ---- the exception mapping ---------------------------------------------------------------------

template <class E>
void expect_same_type(const char* name) {
  SCOPED_TRACE(name);
  const sh::Task t = sh::ship(shiptest::throw_it<E>, std::string("message of ") + name);
  try {
    round_trip<void>(t);
    ADD_FAILURE() << "no exception";
  } catch (const std::exception& e) {
    EXPECT_TRUE(typeid(e) == typeid(E)) << "got " << typeid(e).name();
    EXPECT_EQ(std::string(e.what()), std::string("message of ") + name);
  }
}

TEST(ShipExceptions, StandardTypesKeepTheirType) {
  expect_same_type<std::logic_error>("std::logic_error");
  expect_same_type<std::invalid_argument>("std::invalid_argument");
  expect_same_type<std::out_of_range>("std::out_of_range");
  expect_same_type<std::length_error>("std::length_error");
  expect_same_type<std::domain_error>("std::domain_error");
  expect_same_type<std::runtime_error>("std::runtime_error");
  expect_same_type<std::range_error>("std::range_error");
  expect_same_type<std::overflow_error>("std::overflow_error");
  expect_same_type<std::underflow_error>("std::underflow_error");
}

TEST(ShipExceptions, BadAlloc) {
  EXPECT_THROW(round_trip<void>(sh::ship(shiptest::throw_bad_alloc)), std::bad_alloc);
}

TEST(ShipExceptions, TandemTypesKeepTheirType) {
  expect_same_type<tandem::Error>("tandem::Error");
  expect_same_type<tandem::RuntimeError>("tandem::RuntimeError");
  expect_same_type<tandem::ValueError>("tandem::ValueError");
  expect_same_type<tandem::DecodeError>("tandem::DecodeError");
  expect_same_type<tandem::TimeoutError>("tandem::TimeoutError");
  expect_same_type<tandem::Empty>("tandem::Empty");
  expect_same_type<tandem::Full>("tandem::Full");
  expect_same_type<tandem::ShutDown>("tandem::ShutDown");
  expect_same_type<tandem::CancelledError>("tandem::CancelledError");
  expect_same_type<tandem::InvalidStateError>("tandem::InvalidStateError");
  expect_same_type<tandem::BrokenBarrierError>("tandem::BrokenBarrierError");
  expect_same_type<tandem::BrokenExecutor>("tandem::BrokenExecutor");
  expect_same_type<tandem::BrokenThreadPool>("tandem::BrokenThreadPool");
  expect_same_type<tandem::BrokenProcessPool>("tandem::BrokenProcessPool");
}

TEST(ShipExceptions, WorkerDiedKeepsItsFields) {
  try {
    round_trip<void>(sh::ship(shiptest::throw_worker_died));
    FAIL();
  } catch (const tandem::WorkerDied& e) {
    EXPECT_STREQ(e.what(), "worker 7 died");
    EXPECT_EQ(e.pid(), 7);
    EXPECT_EQ(e.exit_code(), -1);
    EXPECT_EQ(e.signal(), 9);
  }
}

TEST(ShipExceptions, RemoteErrorKeepsItsTypeName) {
  try {
    round_trip<void>(sh::ship(shiptest::throw_remote));
    FAIL();
  } catch (const tandem::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "py::KeyError");
    EXPECT_STREQ(e.what(), "py::KeyError: 'k'");
  }
}

TEST(ShipExceptions, UnknownTypesBecomeRemoteError) {
  try {
    round_trip<void>(sh::ship(shiptest::throw_custom));
    FAIL();
  } catch (const tandem::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "shiptest::Custom");
    EXPECT_STREQ(e.what(), "shiptest::Custom: custom failure");
  }
  // Derived from a mapped type: exact matching, so no slicing into std::runtime_error.
  try {
    round_trip<void>(sh::ship(shiptest::throw_derived, std::string("d")));
    FAIL();
  } catch (const tandem::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "shiptest::DerivedRuntime");
  }
  try {
    round_trip<void>(sh::ship(shiptest::throw_int));
    FAIL();
  } catch (const tandem::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "int");
  }
}

// ---- corrupt input -----------------------------------------------------------------------------

TEST(ShipCorrupt, FlippedOffsetsFailTheCheck) {
  for (int field = 0; field < 3; ++field) {
    for (std::uint64_t delta : {1ULL, 16ULL, 1ULL << 40}) {
      sh::Task t = sh::ship(shiptest::add, 1, 2);
      (field == 0 ? t.trampoline : field == 1 ? t.function : t.check) += delta;
      std::vector<std::byte> out;
      EXPECT_THROW(sh::run(t, out), tandem::DecodeError);
      EXPECT_TRUE(out.empty());  // nothing was called
    }
  }
}

TEST(ShipCorrupt, WrongKind) {
  sh::Task t = sh::ship(shiptest::add, 1, 2);
  t.kind = sh::TaskKind::process;
  std::vector<std::byte> out;
  EXPECT_THROW(sh::run(t, out), tandem::DecodeError);
}

TEST(ShipCorrupt, OffsetsOutsideTheCode) {
  EXPECT_THROW(sh::function_address(~0ULL), tandem::DecodeError);
  EXPECT_THROW(sh::function_address(0), tandem::DecodeError);  // the ELF header, not code
  static int data_object = 0;
  EXPECT_THROW(sh::function_offset(reinterpret_cast<std::uintptr_t>(&data_object)),
               tandem::ValueError);
  // Code outside the executable (libc's, in a PIE executable) cannot be shipped.
  if (sh::executable_image().base != 0) {
    EXPECT_THROW(sh::function_offset(sh::address_of(&std::strlen)), tandem::ValueError);
  }
}

TEST(ShipCorrupt, CorruptArgumentsAreTheTasksDecodeError) {
  sh::Task t = sh::ship(shiptest::greet, "x", 1);
  t.args.resize(t.args.size() - 1);  // truncated
  std::vector<std::byte> out;
  sh::run(t, out);
  EXPECT_THROW(sh::take_result<std::string>(out), tandem::DecodeError);
  t.args.assign(3, std::byte{0xff});
  out.clear();
  sh::run(t, out);
  EXPECT_THROW(sh::take_result<std::string>(out), tandem::DecodeError);
}

TEST(ShipCorrupt, CorruptOutcomes) {
  EXPECT_THROW(sh::take_result<int>({}), tandem::DecodeError);
  const std::byte bad_tag[] = {std::byte{7}};
  EXPECT_THROW(sh::take_result<int>(bad_tag), tandem::DecodeError);
  const std::byte void_trailing[] = {std::byte{0}, std::byte{1}};
  EXPECT_THROW(sh::take_result<void>(void_trailing), tandem::DecodeError);
  std::vector<std::byte> out;
  sh::run(sh::ship(shiptest::add, 1, 2), out);
  EXPECT_THROW(sh::take_result<std::string>(out), tandem::DecodeError);  // not a string
  // Random bytes never crash the decoder.
  std::uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::byte> junk(1 + i % 40);
    for (auto& b : junk) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      b = std::byte(x & 0xff);
    }
    try {
      (void)sh::take_result<std::map<std::string, int>>(junk);
    } catch (const std::exception&) {
    }
    try {
      (void)tandem::deserialize<sh::Task>(junk);
    } catch (const tandem::DecodeError&) {
    }
  }
}

// ---- build-id ----------------------------------------------------------------------------------

TEST(BuildId, GnuNoteOfThisBinary) {
  const sh::BuildId& id = sh::build_id();
  EXPECT_EQ(id.source(), sh::BuildId::Source::gnu_note) << id.describe();
  EXPECT_GE(id.bytes().size(), 8u);
  EXPECT_EQ(id.hex().size(), 2 * id.bytes().size());
  EXPECT_EQ(&id, &sh::build_id());
  EXPECT_NE(id.describe().find(id.hex()), std::string::npos);
}

TEST(BuildId, FallbackDiffersFromNote) {
  const sh::BuildId a(sh::build_id().bytes(), sh::BuildId::Source::gnu_note);
  const sh::BuildId b(sh::build_id().bytes(), sh::BuildId::Source::file_stat);
  EXPECT_FALSE(a == b);
  EXPECT_NE(a.key(), b.key());
  EXPECT_NE(b.describe().find("no GNU build-id"), std::string::npos);
}

}  // namespace
