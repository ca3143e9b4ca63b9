// SPDX-License-Identifier: MIT
// <tandem/futures/detail/block_pool.hpp> — where every future's state (and the task that
// travels with it, one object: task_state.hpp) gets its memory (detail).
//
// Why not plain operator new: a program that submits a million tasks and keeps their
// futures has a million ~130-byte states alive at once. With glibc's malloc each such wave
// pays, in the submitting thread, malloc's slow path (the blocks come back freed by other
// threads, so the per-thread tcache is always empty) and a page fault per 4 KiB of fresh
// heap, again on every wave, because free() trims the heap back to the kernel once the wave
// is over. Measured on the thread-pool benchmark (bench/compare/thread_pool_workload.cpp):
// ~40% of the submitting thread's time was _int_malloc plus page faults.
//
// What it does (the size-class + thread-cache + central-list shape of TCMalloc, and of
// oneTBB's scalable allocator, which backs tbb::task_group's tasks):
//  * Sizes up to kMaxBytes are rounded up to a multiple of 16 (kClassBytes): 32 classes.
//    Larger states (big captured arguments) go to ::operator new. 16, not a cache line:
//    a wave of a million futures touches that much fresh memory, and on a VM fresh memory
//    is the cost that dominates (an 80-byte state in a 128-byte block was 40% of the
//    submitting thread's time in page clearing, bench/RESULTS.md session 10), far more than
//    the false sharing of neighbours (a worker finishes a state while the submitter builds
//    the next one; both lines were already moving between the two).
//  * Each thread keeps a private free list per class (no atomics, no lock). Above
//    kCacheMax blocks it hands kBatch of them to the class's central list, under a mutex
//    taken once per kBatch frees; an empty cache takes a batch back the same way. A thread's
//    cache goes to the central lists when the thread exits.
//  * New blocks are carved from 2 MiB-aligned 2 MiB chunks taken from the C++ heap (so memory
//    the program freed elsewhere is reused, already backed: on a virtual machine a fresh
//    page can cost the host a fault as well, and a wave of a million states is 80 MiB) and
//    madvise(MADV_HUGEPAGE)d, so the fresh part faults once per 2 MiB where the kernel allows
//    huge pages (THP "madvise" or "always"), once per 4 KiB otherwise.
// Cost: allocation and free are a thread-local list push/pop in the common case.
// Memory: blocks are never returned to the kernel: the pool keeps the peak number of states
//  alive at once (x 16-512 bytes) for reuse, as TCMalloc and the TBB allocator keep theirs.
// Blocks are 16-byte aligned (FutureCore sends over-aligned states to ::operator new).
// Fork: the central lists are locked across fork() (pthread_atfork), so a child never
//  inherits a list in the middle of an update; the child keeps the forking thread's cache.
// AddressSanitizer: the pool steps aside and every block is an ordinary aligned operator new,
//  so ASan checks future states like any heap object and LeakSanitizer sees the pointers
//  they hold (it does not scan memory mapped by hand). The pool itself is exercised by the
//  other builds (TSan included).
#pragma once

#include <cstddef>
#include <new>

namespace tandem::detail {

inline constexpr std::size_t kClassBytes = 16;
inline constexpr std::size_t kMaxBytes = 512;

/// A block of at least `bytes` bytes (16-byte aligned when bytes <= kMaxBytes).
/// std::bad_alloc when the system has no memory.
void* block_alloc(std::size_t bytes);
/// Returns a block from block_alloc(bytes) (the same `bytes`).
void block_free(void* p, std::size_t bytes) noexcept;

/// For tests: blocks of `bytes`'s class in the central list (not in any thread's cache).
std::size_t block_pool_central_count(std::size_t bytes) noexcept;
/// For tests: false when the pool steps aside (AddressSanitizer builds).
bool block_pool_active() noexcept;

}  // namespace tandem::detail
