// SPDX-License-Identifier: MIT
// mp::Manager's dict<K, V>(), list<T>() and Namespace()
// (docs/multiprocessing.md#manager-dict-list-and-namespace):
// Python's multiprocessing.Manager().dict()/list()/Namespace(), as
// DictProxy<K, V>, ListProxy<T> and NamespaceProxy — serializable handles, usable in pool
// tasks and in Process children of every start method, like the manager's other proxies.
//
//   auto d = m.dict<std::string, int>();             // d = m.dict()
//   d.set("a", 1);                                   // d["a"] = 1
//   int a = d["a"];                                  // a = d["a"]       (KeyError if absent)
//   auto l = m.list<int>();  l.append(3);            // l = m.list(); l.append(3)
//   auto ns = m.Namespace();  ns.set("x", 1.5);      // ns = m.Namespace(); ns.x = 1.5
//   double x = ns.get<double>("x");                  // x = ns.x       (AttributeError if absent)
//
// How it works. Like every object of this Manager (manager.hpp) the container lives in a
// memfd-backed shared region, not in the server process: a robust lock, a small header, then
// the items as serialized bytes (tandem::serialize) — (key bytes, value bytes) records in
// insertion order. The proxies are typed on the client side: they serialize arguments,
// take the lock, work on the bytes, decode what they return, release.
//
// Guarantees
//  * Each call is atomic: it runs entirely under the container's lock (Python: one round trip
//    to the server, which serializes calls on one object). A compound operation made of two
//    calls is not: `d.set(k, d[k] + 1)` can lose an update to another process, as
//    `d[k] += 1` can in Python. Hold a Manager Lock() across both calls for that.
//  * Order: a dict keeps insertion order (as Python 3.7+); re-setting a key keeps its place;
//    popitem() removes the last item (LIFO, as Python).
//  * Keys and equality: two keys are the same key when their serialized bytes are equal (the
//    codec writes one canonical form for a value of a given type, so for the usual key types —
//    integers, strings, tuples and structs of them — this is ordinary ==). ListProxy's
//    remove/index/count compare serialized bytes in the same way. Differences from ==:
//    +0.0 and -0.0 are different keys; two NaN with the same bits are the same key.
//  * Type safety: a handle decoded as another kind or element type raises DecodeError (the
//    type tag is that of K and V, or T). A Namespace attribute read with get<T>() as another
//    T than it was set with raises DecodeError ("attribute 'x' holds another type").
//  * Errors (Python's in brackets): missing key → tandem::KeyError [KeyError]; empty
//    popitem() → KeyError; index out of range → std::out_of_range [IndexError] with
//    Python's message; remove()/index() of an absent value → ValueError [ValueError]; missing
//    attribute → tandem::AttributeError [AttributeError]. Every call on a proxy whose manager
//    was shut down raises RuntimeError, as every other proxy.
//  * Capacity: a container holds at most `max_bytes` of records (the Manager call's argument,
//    1 MiB by default; each item costs 8 bytes + its serialized key and value). A call that
//    would exceed it raises std::length_error and changes nothing (update()/extend() may have
//    applied a prefix — see there). Pages are touched only when used.
//  * Crash safety: the lock is robust. A process killed while it holds it without modifying
//    (a read) leaves the container intact; killed in the middle of a modification it leaves it
//    marked broken, and every later call raises RuntimeError("... is broken: a process died
//    while modifying it") rather than reading torn records. (Python's server would finish or
//    drop the call.)
//  * Blocking: a call waits for the lock only while another call runs (microseconds); that
//    wait is cut into kManagerRecheck slices like other proxies' and raises RuntimeError when
//    the manager shuts down or its server dies meanwhile. No call takes a timeout.
// Cost: one lock acquisition per call, plus a linear scan of the records (memcmp of
//  serialized keys: O(total bytes)) for lookups by key, index or value — a dict here is a
//  small shared association list, not a hash table; sort() decodes every item. No system call
//  and no round trip to the server process, unlike Python's (~20-50 µs per call).
// Further differences from Python
//  * Values are copies: d["k"] returns a V, and modifying it changes nothing in the dict (as
//    in Python, where a mutable value fetched through a proxy is a copy). Proxies are values
//    too: a dict of ListProxy<int> stores handles, so d[k].append(1) reaches the shared list
//    (test_list_proxy_in_list, test_dict_proxy_nested).
//  * No slicing, no +, *, no views: snapshot()/keys()/values()/items() return std::vectors.
//    Iterating a ListProxy reads item i at each step (one call per item; it sees changes made
//    meanwhile, as Python's iterator). A DictProxy is iterated through keys()/items() snapshots
//    (no "changed size during iteration" RuntimeError).
//  * Namespace attributes are typed: set<T>(name, v) then get<T>(name); names() lists them.
//
// Files: manager_dict.hpp, manager_list.hpp, manager_namespace.hpp (the proxies),
// detail/manager_containers.hpp (their shared base), src/multiprocessing/manager_containers.cpp.
#pragma once

#include "tandem/multiprocessing/manager_dict.hpp"
#include "tandem/multiprocessing/manager_list.hpp"
#include "tandem/multiprocessing/manager_namespace.hpp"
