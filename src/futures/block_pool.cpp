// SPDX-License-Identifier: MIT
// The block pool of future states: see block_pool.hpp for the design and why.
#include "tandem/futures/detail/block_pool.hpp"

#include <pthread.h>
#include <sys/mman.h>

#include <cstdint>
#include <new>

#include "detail/sanitizers.hpp"
#include "tandem/detail/futex_mutex.hpp"


namespace tandem::detail {
namespace {

constexpr std::size_t kClasses = kMaxBytes / kClassBytes;
constexpr std::size_t kBatch = 128;       // blocks moved between a cache and a central list
constexpr std::size_t kCacheMax = 2 * kBatch;
constexpr std::size_t kChunk = std::size_t{2} << 20;  // a transparent huge page

struct Block {
  Block* next;
};

#ifdef TANDEM_ASAN
constexpr bool kActive = false;  // see block_pool.hpp: plain operator new under ASan
#else
constexpr bool kActive = true;
#endif

constexpr std::size_t class_of(std::size_t bytes) noexcept {
  return bytes == 0 ? 0 : (bytes - 1) / kClassBytes;
}
constexpr std::size_t class_bytes(std::size_t c) noexcept { return (c + 1) * kClassBytes; }

// A free list: the head and its length. A free block's first word links it.
struct List {
  Block* head = nullptr;
  std::size_t count = 0;

  void push(Block* b) noexcept {
    b->next = head;
    head = b;
    ++count;
  }
  Block* pop() noexcept {
    Block* b = head;
    head = b->next;
    --count;
    return b;
  }
  // Detaches the first n blocks (n <= count) as a list of their own.
  List split(std::size_t n) noexcept {
    List out{head, n};
    Block* last = head;
    for (std::size_t i = 1; i < n; ++i) last = last->next;
    head = last->next;
    last->next = nullptr;
    count -= n;
    return out;
  }
  // Appends `other` in front (walks it to find its tail).
  void splice(List other) noexcept {
    if (other.count == 0) return;
    Block* last = other.head;
    while (last->next != nullptr) last = last->next;
    last->next = head;
    head = other.head;
    count += other.count;
  }
};

// The central lists and the chunk that new blocks are carved from, under one mutex: it is
// taken once per kBatch allocations or frees of a thread, never per block.
struct Central {
  FutexMutex mu;
  List free[kClasses];
  char* carve = nullptr;  // the unused rest of the current chunk
  char* carve_end = nullptr;

  // A batch of class c for a thread cache: central blocks first, then fresh ones.
  List take(std::size_t c) {
    const std::size_t bytes = class_bytes(c);
    mu.lock();
    if (free[c].count > 0) {
      List out = free[c].split(free[c].count < kBatch ? free[c].count : kBatch);
      mu.unlock();
      return out;
    }
    List out;
    try {
      for (std::size_t i = 0; i < kBatch; ++i) {
        if (static_cast<std::size_t>(carve_end - carve) < bytes) new_chunk();
        auto* b = reinterpret_cast<Block*>(carve);
        carve += bytes;
        out.push(b);
      }
    } catch (...) {
      if (out.count == 0) {
        mu.unlock();
        throw;
      }
    }
    mu.unlock();
    return out;
  }

  void give(std::size_t c, List l) noexcept {
    mu.lock();
    free[c].splice(l);
    mu.unlock();
  }

  void new_chunk() {
    // From the C++ heap, 2 MiB-aligned, not a private mmap: memory the program has freed (a
    // previous wave of other objects) is reused, already backed, instead of faulting in
    // fresh pages — on a VM a fresh page can cost the host's fault too. A large aligned
    // request that the heap cannot serve is mmapped by malloc itself. The madvise asks for
    // huge pages where the range is still unbacked.
    void* m = ::operator new(kChunk, std::align_val_t{kChunk});
    ::madvise(m, kChunk, MADV_HUGEPAGE);  // a hint: may fail
    carve = static_cast<char*>(m);
    carve_end = carve + kChunk;
  }
};

// Never destroyed: states may be freed by static destructors and by threads that outlive
// main().
Central& central() noexcept {
  static Central* c = [] {
    auto* p = new Central;
    ::pthread_atfork([] { central().mu.lock(); }, [] { central().mu.unlock(); },
                     [] { central().mu.unlock(); });
    return p;
  }();
  return *c;
}

// A thread's cache. Plain data, so it stays usable after the thread's destructors have run
// (a state freed then goes to the central list directly).
struct Cache {
  List lists[kClasses];
  bool flusher = false;  // t_flusher is registered for this thread
  bool dead = false;     // t_flusher has run
};
thread_local Cache t_cache;

// Flushes the thread's cache at thread exit.
struct CacheFlusher {
  void touch() noexcept {}
  ~CacheFlusher() {
    for (std::size_t c = 0; c < kClasses; ++c)
      if (t_cache.lists[c].count > 0) {
        central().give(c, t_cache.lists[c]);
        t_cache.lists[c] = List{};
      }
    t_cache.dead = true;
  }
};
thread_local CacheFlusher t_flusher;

}  // namespace

void* block_alloc(std::size_t bytes) {
  if (!kActive || bytes > kMaxBytes) return ::operator new(bytes, std::align_val_t{kClassBytes});
  const std::size_t c = class_of(bytes);
  if (!t_cache.dead) {
    if (!t_cache.flusher) {
      t_cache.flusher = true;
      t_flusher.touch();  // constructs it: its destructor runs at thread exit
    }
    List& l = t_cache.lists[c];
    if (l.count == 0) l = central().take(c);
    return l.pop();
  }
  List one = central().take(c);
  void* p = one.pop();
  central().give(c, one);
  return p;
}

void block_free(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (!kActive || bytes > kMaxBytes) {
    ::operator delete(p, std::align_val_t{kClassBytes});
    return;
  }
  const std::size_t c = class_of(bytes);
  if (t_cache.dead) {
    List one;
    one.push(static_cast<Block*>(p));
    central().give(c, one);
    return;
  }
  List& l = t_cache.lists[c];
  l.push(static_cast<Block*>(p));
  if (l.count > kCacheMax) central().give(c, l.split(kBatch));
}

bool block_pool_active() noexcept { return kActive; }

std::size_t block_pool_central_count(std::size_t bytes) noexcept {
  Central& k = central();
  k.mu.lock();
  const std::size_t n = k.free[class_of(bytes)].count;
  k.mu.unlock();
  return n;
}

}  // namespace tandem::detail
