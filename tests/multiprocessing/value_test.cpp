// SPDX-License-Identifier: MIT
// tandem::mp::Value / mp::Array — ports of CPython Lib/test/_test_multiprocessing.py
// (_TestValue, _TestArray), with real fork()ed children, and a cross-process stress test.
#include <gtest/gtest.h>

#include <cstdint>
#include <mutex>
#include <numeric>
#include <vector>

#include "support/fork_helper.hpp"
#include "tandem/multiprocessing/array.hpp"
#include "tandem/multiprocessing/value.hpp"

using namespace std::chrono_literals;
namespace mp = tandem::mp;

struct Point {
  double x, y;
};

// _TestValue.test_value: the child overwrites each value; the parent sees the new ones.
TEST(MpValue, Value) {
  mp::Value<int> i(25);
  mp::Value<double> d(1.25);
  mp::Value<std::int16_t> h(-3);
  mp::Value<char> c('x');
  mp::Value<Point> p(Point{1, 2});
  EXPECT_EQ(i.value(), 25);
  EXPECT_EQ(d.value(), 1.25);
  auto child = mptest::fork_child([&] {
    i.value() = 3 << 20;
    d.value() = 2.75;
    h.value() = static_cast<std::int16_t>(-1);
    c.value() = 'y';
    p.value() = Point{3, 4};
    return 0;
  });
  EXPECT_EQ(child.join(), 0);
  EXPECT_EQ(i.value(), 3 << 20);
  EXPECT_EQ(d.value(), 2.75);
  EXPECT_EQ(h.value(), -1);
  EXPECT_EQ(c.value(), 'y');
  EXPECT_EQ(p.value().x, 3);
  EXPECT_EQ(p.value().y, 4);
}

// _TestValue.test_value with the default: zero
TEST(MpValue, DefaultIsZero) {
  mp::Value<long> v;
  EXPECT_EQ(v.value(), 0);
}

// _TestValue.test_getobj_getlock: the default lock is an RLock
TEST(MpValue, GetLock) {
  mp::Value<int> v(5);
  mp::RLock& lock = v.get_lock();
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.acquire());  // recursive, as Python's RLock
  v.value() += 1;
  lock.release();
  lock.release();
  EXPECT_EQ(v.value(), 6);
  std::lock_guard with(v.get_lock());
  EXPECT_TRUE(v.get_lock().locked());
}

// _TestValue.test_rawvalue / test_getobj_getlock with lock=False: no lock
TEST(MpValue, RawValue) {
  mp::Value<int> v(7, false);
  EXPECT_FALSE(v.has_lock());
  EXPECT_THROW(v.get_lock(), tandem::RuntimeError);
  auto child = mptest::fork_child([&] {
    v.value() = 8;
    return 0;
  });
  EXPECT_EQ(child.join(), 0);
  EXPECT_EQ(v.value(), 8);
}

// _TestArray.test_array: the child negates every element; the parent sees it.
TEST(MpArray, Array) {
  std::vector<int> seq{681, -98, 2, 5, 4, 6, -1, 0};
  mp::Array<int> arr{681, -98, 2, 5, 4, 6, -1, 0};
  ASSERT_EQ(arr.size(), seq.size());
  EXPECT_TRUE(std::equal(arr.begin(), arr.end(), seq.begin()));
  auto child = mptest::fork_child([&] {
    for (std::size_t i = 1; i < arr.size(); ++i) arr[i] += arr[i - 1];
    return 0;
  });
  EXPECT_EQ(child.join(), 0);
  std::partial_sum(seq.begin(), seq.end(), seq.begin());
  EXPECT_TRUE(std::equal(arr.begin(), arr.end(), seq.begin()));
}

// _TestArray.test_array_from_size: zeroed
TEST(MpArray, FromSize) {
  mp::Array<double> a(10);
  EXPECT_EQ(a.size(), 10u);
  for (double x : a) EXPECT_EQ(x, 0.0);
  mp::Array<char> c(3, 'z');
  EXPECT_EQ(c[2], 'z');
  EXPECT_THROW(c.at(3), std::out_of_range);
}

// _TestArray.test_rawarray / test_getobj_getlock_obj
TEST(MpArray, RawArrayAndLock) {
  mp::Array<int> raw(4, 1, false);
  EXPECT_THROW(raw.get_lock(), tandem::RuntimeError);
  mp::Array<int> arr(4, 1);
  std::lock_guard with(arr.get_lock());
  EXPECT_TRUE(arr.get_lock().is_owned());
  // A large array spans several pages.
  mp::Array<std::int64_t> big(100000, 3);
  EXPECT_EQ(big[99999], 3);
}

// Stress: two processes × many locked increments give the exact total (the seed's ch11_07
// workload). Also a rough throughput figure, reported as a test property.
TEST(MpValue, TwoProcessesLockedIncrements) {
  constexpr int kPerProcess = 500000;
  mp::Value<long> counter(0);
  mptest::Pipe go;
  auto work = [&] {
    go.wait();
    for (int i = 0; i < kPerProcess; ++i) {
      std::lock_guard with(counter.get_lock());
      counter.value() += 1;
    }
    return 0;
  };
  auto a = mptest::fork_child(work);
  auto b = mptest::fork_child(work);
  const auto t0 = mptest::monotonic_ns();
  go.signal();
  go.signal();
  EXPECT_EQ(a.join(), 0);
  EXPECT_EQ(b.join(), 0);
  const double secs = static_cast<double>(mptest::monotonic_ns() - t0) / 1e9;
  EXPECT_EQ(counter.value(), 2L * kPerProcess);
  const double rate = 2.0 * kPerProcess / secs;
  RecordProperty("ops_per_sec", std::to_string(static_cast<long>(rate)));
  std::printf("2 processes x %d locked increments: %.1f M ops/s\n", kPerProcess, rate / 1e6);
}

// Processes and threads together: 2 processes × 2 threads each.
TEST(MpValue, ProcessesAndThreads) {
  constexpr int kPer = 20000;
  mp::Value<int> counter(0);
  auto work = [&] {
    auto inc = [&] {
      for (int i = 0; i < kPer; ++i) {
        std::lock_guard with(counter.get_lock());
        ++counter.value();
      }
    };
    std::thread t(inc);
    inc();
    t.join();
    return 0;
  };
  auto a = mptest::fork_child(work);
  auto b = mptest::fork_child(work);
  EXPECT_EQ(a.join(), 0);
  EXPECT_EQ(b.join(), 0);
  EXPECT_EQ(counter.value(), 4 * kPer);
}

TEST(MpValue, NoLeakedFds) {
  const int before = mptest::count_open_fds();
  {
    mp::Value<int> v;
    mp::Array<int> a(5);
  }
  EXPECT_EQ(mptest::count_open_fds(), before);
}
