// SPDX-License-Identifier: MIT
// Tests for mp::Manager's dict<K, V>(), list<T>() and Namespace() (manager_containers.hpp).
// CPython's _test_multiprocessing.py _TestContainers is ported below (each case names its
// test); then the handles in pool tasks and in Process children of every start method.
// main() calls mp::init first (spawn children).
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/pool_test_support.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing.hpp"
#include "tandem/multiprocessing/manager.hpp"
#include "tandem/process_pool.hpp"
#include "tandem/serialize.hpp"

namespace mp = tandem::mp;
using namespace std::chrono_literals;
using StartMethod = mp::StartMethod;

namespace {

template <class P>
P round_trip(const P& p) {
  return tandem::deserialize<P>(tandem::serialize(p));
}

std::vector<int> range(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i);
  return v;
}

// ---- tasks and Process targets (plain functions: they reach spawn/forkserver children).

int bump_own_key(mp::DictProxy<int, int> d, int key) {
  for (int i = 0; i < 100; ++i) d.set(key, d.get(key, 0) + 1);  // own key: no other writer
  return key;
}

int read_missing(mp::DictProxy<std::string, int> d) { return d["missing"]; }

// A read-modify-write of a shared key made atomic by a Manager Lock held across both calls.
void bump_shared(mp::DictProxy<std::string, int> d, mp::LockProxy lock) {
  for (int i = 0; i < 100; ++i) {
    std::lock_guard g(lock);
    d.set("total", d.get("total", 0) + 1);
  }
}

void child_uses_all(mp::DictProxy<std::string, int> d, mp::ListProxy<int> l,
                    mp::NamespaceProxy ns, int who) {
  d.set("child" + std::to_string(who), who);
  l.append(who);
  ns.set("last", who);
  if (d["parent"] != 7 || ns.get<std::string>("greeting") != "hi") ::_exit(3);
}

int run_child(StartMethod method, mp::DictProxy<std::string, int> d, mp::ListProxy<int> l,
              mp::NamespaceProxy ns, int who) {
  mp::Process p(&child_uses_all, std::tuple(d, l, ns, who),
                mp::ProcessOptions{.start_method = method});
  p.start();
  return tandem_test::join_exitcode(p);
}

}  // namespace

// ============================================================================ dict

// _TestContainers.test_dict
TEST(ManagerDict, TestDict) {
  mp::Manager m;
  auto d = m.dict<int, std::string>();
  const std::vector<int> indices{65, 66, 67, 68, 69};
  std::map<int, std::string> expect;
  for (int i : indices) {
    d.set(i, std::string(1, static_cast<char>(i)));
    expect[i] = std::string(1, static_cast<char>(i));
  }
  EXPECT_EQ(d.copy(), expect);
  EXPECT_EQ(d.keys(), indices);
  EXPECT_EQ(d.values(), (std::vector<std::string>{"A", "B", "C", "D", "E"}));
  EXPECT_EQ(d.items().front(), (std::pair<int, std::string>{65, "A"}));
  EXPECT_EQ(d.size(), 5u);
}

// _TestContainers.test_dict_iter (iteration is over keys() snapshots here: no RuntimeError
// when the dict changes size meanwhile).
TEST(ManagerDict, TestDictIter) {
  mp::Manager m;
  auto d = m.dict<int, std::string>();
  for (int i = 65; i < 70; ++i) d.set(i, std::string(1, static_cast<char>(i)));
  std::vector<int> seen;
  for (int k : d.keys()) seen.push_back(k);
  EXPECT_EQ(seen, (std::vector<int>{65, 66, 67, 68, 69}));
  d.clear();
  EXPECT_TRUE(d.keys().empty());
  EXPECT_TRUE(d.empty());
}

// _TestContainers.test_dict_proxy_nested: a dict of dict proxies stores handles.
TEST(ManagerDict, TestDictProxyNested) {
  mp::Manager m;
  auto supplies = m.dict<std::string, int>();
  supplies.update({{"water", 10}, {"feed", 3}});
  auto d = m.dict<std::string, mp::DictProxy<std::string, int>>();
  d.set("supplies", supplies);
  EXPECT_EQ(d["supplies"]["water"], 10);
  d["supplies"].set("blankets", 5);
  EXPECT_EQ(supplies["blankets"], 5);
  d.clear();
  EXPECT_EQ(d.size(), 0u);
  EXPECT_EQ(supplies["water"], 10);
}

TEST(ManagerDict, PythonSemantics) {
  mp::Manager m;
  auto d = round_trip(m.dict<std::string, int>());
  EXPECT_THROW(d["x"], tandem::KeyError);
  EXPECT_THROW(d.pop("x"), tandem::LookupError);
  try {
    (void)d["nope"];
  } catch (const tandem::KeyError& e) {
    EXPECT_STREQ(e.what(), "'nope'");
  }
  EXPECT_EQ(d.get("x"), std::nullopt);
  EXPECT_EQ(d.get("x", 4), 4);
  d.set("a", 1);
  d.set("b", 2);
  d.set("a", 3);  // keeps its place
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d["a"], 3);
  EXPECT_EQ(d.setdefault("a", 9), 3);
  EXPECT_EQ(d.setdefault("c", 9), 9);
  EXPECT_TRUE(d.contains("c"));
  EXPECT_TRUE(d.has_key("b"));
  EXPECT_FALSE(d.contains("z"));
  EXPECT_EQ(d.pop("b"), 2);
  EXPECT_EQ(d.pop("b", -1), -1);
  EXPECT_EQ(d.popitem(), (std::pair<std::string, int>{"c", 9}));  // LIFO
  d.set("e", 5);
  d.erase("e");  // del d["e"]
  EXPECT_THROW(d.erase("e"), tandem::KeyError);
  d.update(std::map<std::string, int>{{"a", 10}, {"d", 4}});
  EXPECT_EQ(d.items(), (std::vector<std::pair<std::string, int>>{{"a", 10}, {"d", 4}}));
  d.clear();
  EXPECT_THROW(d.popitem(), tandem::KeyError);
}

TEST(ManagerDict, FullRaisesLengthErrorAndChangesNothing) {
  mp::Manager m;
  auto d = m.dict<int, std::string>(64);
  d.set(1, "x");
  EXPECT_THROW(d.set(2, std::string(100, 'y')), std::length_error);
  EXPECT_THROW(d.set(1, std::string(100, 'y')), std::length_error);
  EXPECT_EQ(d.items(), (std::vector<std::pair<int, std::string>>{{1, "x"}}));
}

TEST(ManagerDict, WrongTypeIsADecodeErrorAndShutdownARuntimeError) {
  mp::Manager m;
  auto d = m.dict<int, int>();
  const auto bytes = tandem::serialize(d);
  EXPECT_THROW((tandem::deserialize<mp::DictProxy<int, long>>(bytes)), tandem::DecodeError);
  EXPECT_THROW(tandem::deserialize<mp::ListProxy<int>>(bytes), tandem::DecodeError);
  m.shutdown();
  EXPECT_THROW(d.set(1, 1), tandem::RuntimeError);
}

// ============================================================================ list

// _TestContainers.test_list (no slicing, + or *=: snapshot() and extend() instead)
TEST(ManagerList, TestList) {
  mp::Manager m;
  auto a = m.list<int>();
  a.extend(range(10));
  EXPECT_EQ(a.snapshot(), range(10));
  auto b = m.list<int>();
  EXPECT_TRUE(b.snapshot().empty());
  b.extend(range(5));
  EXPECT_EQ(b.snapshot(), range(5));
  EXPECT_EQ(b[2], 2);
  b.extend(b.snapshot());  // b *= 2
  EXPECT_EQ(b.snapshot(), (std::vector<int>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4}));
  EXPECT_EQ(a.snapshot(), range(10));
}

// _TestContainers.test_list_iter
TEST(ManagerList, TestListIter) {
  mp::Manager m;
  auto a = m.list<int>();
  a.extend(range(10));
  std::vector<int> seen;
  for (int x : a) seen.push_back(x);
  EXPECT_EQ(seen, range(10));
  // list modified during iteration
  auto it = a.begin();
  a.set(1, 100);
  ++it;
  EXPECT_EQ(*it, 100);
  // ... and ends early when the list shrank meanwhile
  a.clear();
  ++it;
  EXPECT_TRUE(it == a.end());
}

// _TestContainers.test_list_proxy_in_list
TEST(ManagerList, TestListProxyInList) {
  mp::Manager m;
  auto a = m.list<mp::ListProxy<int>>();
  for (int i = 0; i < 3; ++i) {
    auto inner = m.list<int>();
    inner.extend({0, 1, 2});
    a.append(inner);
  }
  a[0].set(-1, 55);
  EXPECT_EQ(a[0].snapshot(), (std::vector<int>{0, 1, 55}));
  for (int i = 1; i < 3; ++i) EXPECT_EQ(a[i].snapshot(), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(a[1].pop(), 2);
  EXPECT_EQ(a[1].size(), 2u);
  EXPECT_EQ(a[0].size(), 3u);
  EXPECT_EQ(a[2].size(), 3u);
}

TEST(ManagerList, PythonSemantics) {
  mp::Manager m;
  auto l = round_trip(m.list<std::string>());
  EXPECT_THROW(l.pop(), std::out_of_range);
  l.extend({"b", "d"});
  l.insert(0, "a");
  l.insert(-1, "c");
  l.insert(100, "e");   // clamped
  l.insert(-100, "0");  // clamped
  EXPECT_EQ(l.snapshot(), (std::vector<std::string>{"0", "a", "b", "c", "d", "e"}));
  EXPECT_EQ(l.get(-1), "e");
  EXPECT_EQ(l.pop(0), "0");
  EXPECT_EQ(l.pop(), "e");
  EXPECT_EQ(l.pop(-2), "c");
  try {
    (void)l.get(3);
    ADD_FAILURE();
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "list index out of range");
  }
  EXPECT_THROW(l.set(-4, "x"), std::out_of_range);
  EXPECT_THROW(l.pop(7), std::out_of_range);
  l.append("a");
  EXPECT_EQ(l.count("a"), 2u);
  EXPECT_EQ(l.index("b"), 1u);
  EXPECT_THROW(l.index("z"), tandem::ValueError);
  l.remove("a");
  EXPECT_EQ(l.snapshot(), (std::vector<std::string>{"b", "d", "a"}));
  EXPECT_THROW(l.remove("z"), tandem::ValueError);
  l.sort();
  EXPECT_EQ(l.snapshot(), (std::vector<std::string>{"a", "b", "d"}));
  l.sort(true);
  EXPECT_EQ(l.snapshot(), (std::vector<std::string>{"d", "b", "a"}));
  l.reverse();
  EXPECT_EQ(l.snapshot(), (std::vector<std::string>{"a", "b", "d"}));
  l.set(1, "a longer string than before");
  EXPECT_EQ(l[1], "a longer string than before");
  EXPECT_EQ(l[2], "d");
  l.clear();
  EXPECT_EQ(l.size(), 0u);
}

// ============================================================================ Namespace

// _TestContainers.test_namespace
TEST(ManagerNamespace, TestNamespace) {
  mp::Manager m;
  auto n = round_trip(m.Namespace());
  n.set("name", std::string("Bob"));
  n.set("job", std::string("Builder"));
  n.set("_hidden", std::string("hidden"));
  EXPECT_EQ(n.get<std::string>("name"), "Bob");
  EXPECT_EQ(n.get<std::string>("job"), "Builder");
  n.del("job");
  EXPECT_EQ(n.names(), (std::vector<std::string>{"name", "_hidden"}));
  EXPECT_TRUE(n.has("name"));
  EXPECT_FALSE(n.has("job"));
}

TEST(ManagerNamespace, TypedAttributes) {
  mp::Manager m;
  auto n = m.Namespace();
  EXPECT_THROW(n.get<int>("x"), tandem::AttributeError);
  EXPECT_THROW(n.del("x"), tandem::AttributeError);
  EXPECT_EQ(n.get<int>("x", 5), 5);
  n.set("x", 1);
  EXPECT_EQ(n.get<int>("x"), 1);
  EXPECT_THROW(n.get<long>("x"), tandem::DecodeError);
  n.set("x", std::vector<double>{1.5, 2.5});  // an attribute can change type, as in Python
  EXPECT_EQ(n.get<std::vector<double>>("x"), (std::vector<double>{1.5, 2.5}));
  n.erase("x");
  EXPECT_FALSE(n.has("x"));
}

// ============================================================================ across processes

class ManagerContainersAcross : public tandem_test::PoolByStartMethod {};

// Four pool tasks at once, each bumping its own key 100 times: every key ends at exactly 100.
TEST_P(ManagerContainersAcross, PoolTasksEachBumpTheirOwnKey) {
  mp::Manager m;
  auto d = m.dict<int, int>();
  tandem::ProcessPoolExecutor ex(opts(4));
  std::vector<tandem::Future<int>> fs;
  for (int k = 0; k < 4; ++k) fs.push_back(ex.submit(&bump_own_key, d, k));
  for (int k = 0; k < 4; ++k) EXPECT_EQ(fs[k].result(60s), k);
  // (insertion order is the tasks' arrival order)
  EXPECT_EQ(d.copy(), (std::map<int, int>{{0, 100}, {1, 100}, {2, 100}, {3, 100}}));
}

// Four tasks bump one shared key, each read-modify-write under a Manager Lock: exactly 400.
// A task's KeyError comes back through its future as a tandem::KeyError.
TEST_P(ManagerContainersAcross, PoolTasksShareAKeyUnderALock) {
  mp::Manager m;
  auto d = m.dict<std::string, int>();
  auto lock = m.Lock();
  tandem::ProcessPoolExecutor ex(opts(4));
  std::vector<tandem::Future<void>> fs;
  for (int k = 0; k < 4; ++k) fs.push_back(ex.submit(&bump_shared, d, lock));
  for (auto& f : fs) f.result(60s);
  EXPECT_EQ(d["total"], 400);
  EXPECT_THROW(ex.submit(&read_missing, d).result(60s), tandem::KeyError);
}

// Process children of this start method use all three proxies.
TEST_P(ManagerContainersAcross, ProcessChildrenUseEveryProxy) {
  mp::Manager m;
  auto d = m.dict<std::string, int>();
  auto l = m.list<int>();
  auto ns = m.Namespace();
  d.set("parent", 7);
  ns.set("greeting", std::string("hi"));
  for (int who = 1; who <= 2; ++who) EXPECT_EQ(run_child(GetParam(), d, l, ns, who), 0);
  EXPECT_EQ(d["child1"], 1);
  EXPECT_EQ(d["child2"], 2);
  EXPECT_EQ(l.snapshot(), (std::vector<int>{1, 2}));
  EXPECT_EQ(ns.get<int>("last"), 2);
}

INSTANTIATE_TEST_SUITE_P(ManagerDict, ManagerContainersAcross, tandem_test::all_start_methods(),
                         tandem_test::start_method_name);

int main(int argc, char** argv) { return tandem_test::run_pool_tests(argc, argv); }
