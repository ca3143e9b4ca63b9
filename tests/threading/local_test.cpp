// SPDX-License-Identifier: MIT
// tandem::local<T> — ports of CPython Lib/test/test_threading_local.py (BaseLocalTest), each
// naming its CPython test, plus tandem's own: many objects, objects dying before threads.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "tandem/threading/event.hpp"
#include "tandem/threading/local.hpp"
#include "tandem/threading/thread.hpp"

namespace {

// Counts live instances: Python's weakref list, which tells which values were freed.
struct Tracked {
  static inline std::atomic<int> alive{0};
  Tracked() { alive.fetch_add(1); }
  Tracked(const Tracked&) { alive.fetch_add(1); }
  ~Tracked() { alive.fetch_sub(1); }
  int value = 0;
};

void run_thread(std::function<void()> f) {
  tandem::Thread t(std::move(f));
  t.start();
  t.join();
}

// test_local_refs: a value set by each of n threads is freed when its thread ends (CPython
// may keep the last one; tandem frees every one at thread exit).
TEST(Local, LocalRefs) {
  for (int n : {20, 50, 100}) {
    int before = Tracked::alive.load();
    tandem::local<std::unique_ptr<Tracked>> loc;
    for (int i = 0; i < n; ++i) run_thread([&] { loc.get() = std::make_unique<Tracked>(); });
    EXPECT_EQ(Tracked::alive.load(), before) << n;
  }
}

// test_derived: an init function (Python's subclass __init__) runs in each thread, and a
// value set in a thread is that thread's.
TEST(Local, Derived) {
  std::atomic<int> inits{0};
  tandem::local<int> loc([&] {
    inits.fetch_add(1);
    return -1;
  });
  std::vector<int> seen(10, 0);
  std::vector<std::unique_ptr<tandem::Thread>> threads;
  tandem::Event go;
  for (int i = 0; i < 10; ++i) {
    threads.push_back(std::make_unique<tandem::Thread>([&, i] {
      go.wait();
      int first = loc.get();
      loc.get() = i;
      seen[static_cast<std::size_t>(i)] = first == -1 && loc.get() == i ? i : -100;
    }));
    threads.back()->start();
  }
  go.set();
  for (auto& t : threads) t->join();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(inits.load(), 10);
}

// test_derived_cycle_dealloc: locals made after others died (reusing their slots) start
// empty in a thread that held values in the dead ones.
TEST(Local, DerivedCycleDealloc) {
  tandem::Event e1, e2;
  bool passed = false;
  std::vector<std::unique_ptr<tandem::local<std::string>>> locals;
  tandem::Thread t([&] {
    {
      tandem::local<std::string> doomed;
      doomed.get() = "bar";
    }
    e1.set();
    e2.wait();
    passed = true;
    for (auto& l : locals) passed = passed && l->get().empty();
  });
  t.start();
  e1.wait();
  for (int i = 0; i < 10; ++i) locals.push_back(std::make_unique<tandem::local<std::string>>());
  e2.set();
  t.join();
  EXPECT_TRUE(passed);
}

// test_threading_local (_test_one_class): a value set in one thread is not seen in another
// (Python: AttributeError; tandem: the other thread's T is fresh).
TEST(Local, ThreadingLocal) {
  struct Obj {
    std::string x, y;
  };
  tandem::local<Obj> obj;
  tandem::Event e1, e2;
  std::string failed = "not run";
  tandem::Thread t1([&] {
    obj->x = "foo";
    obj->y = "bar";
    e1.set();
    e2.wait();
  });
  t1.start();
  e1.wait();
  run_thread([&] { failed = obj->x.empty() && obj->y.empty() ? "" : "got " + obj->x; });
  e2.set();
  t1.join();
  EXPECT_EQ(failed, "");
}

// test_threading_local_clear_race: creating and destroying many locals while another thread
// holds values in them.
TEST(Local, ClearRace) {
  tandem::local<int> held;
  tandem::Event stop;
  tandem::Thread other([&] {
    while (!stop.is_set()) {
      tandem::local<int> mine;
      ++mine.get();
      ++held.get();
    }
  });
  other.start();
  for (int i = 0; i < 1000; ++i) {
    tandem::local<int> l;
    l.get() = i;
    EXPECT_EQ(l.get(), i);
  }
  stop.set();
  other.join();
}

// tandem: an object destroyed while threads live frees every thread's value at once.
TEST(Local, ObjectDiesBeforeThreads) {
  int before = Tracked::alive.load();
  auto loc = std::make_unique<tandem::local<Tracked>>();
  tandem::Event filled, dead;
  std::atomic<int> count{0};
  std::vector<std::unique_ptr<tandem::Thread>> threads;
  for (int i = 0; i < 4; ++i) {
    threads.push_back(std::make_unique<tandem::Thread>([&] {
      (*loc)->value = 1;
      if (count.fetch_add(1) + 1 == 4) filled.set();
      dead.wait();
    }));
    threads.back()->start();
  }
  filled.wait();
  EXPECT_EQ(Tracked::alive.load(), before + 4);
  loc.reset();
  EXPECT_EQ(Tracked::alive.load(), before);
  dead.set();
  for (auto& t : threads) t->join();
  EXPECT_EQ(Tracked::alive.load(), before);
}

// tandem: many objects in one thread are independent; value-initialised.
TEST(Local, ManyObjects) {
  std::vector<std::unique_ptr<tandem::local<int>>> ls;
  for (int i = 0; i < 200; ++i) ls.push_back(std::make_unique<tandem::local<int>>());
  for (int i = 0; i < 200; ++i) EXPECT_EQ(ls[static_cast<std::size_t>(i)]->get(), 0);
  for (int i = 0; i < 200; ++i) ls[static_cast<std::size_t>(i)]->get() = i;
  run_thread([&] {
    for (auto& l : ls) EXPECT_EQ(l->get(), 0);
  });
  for (int i = 0; i < 200; ++i) EXPECT_EQ(ls[static_cast<std::size_t>(i)]->get(), i);
}

}  // namespace
