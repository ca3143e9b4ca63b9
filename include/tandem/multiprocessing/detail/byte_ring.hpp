// SPDX-License-Identifier: MIT
// tandem::mp::detail::ByteRing — the shared-memory ring of variable-length records under
// mp::Queue, mp::JoinableQueue and mp::SimpleQueue (queue_core.hpp adds the blocking and
// Python's semantics; this file is the data structure and its crash safety).
//
// Layout (one SharedRegion, a memfd: inherited by fork(), passable over SCM_RIGHTS):
//   [RingControl: locks, published words, notifiers — each hot word on its own cache line]
//   [data: `capacity` bytes, a power of two]
// A record is an 8-byte header {len, tag} and `len` payload bytes, padded to 8. A record
// never wraps: when it does not fit before the end, the producer writes a pad header and
// starts the record at offset 0. To guarantee that an empty ring always has room, a record
// is at most capacity/2 bytes (header included): either it fits before the end, or the pad
// is at least as long as the record, so the record fits at the start.
//
// Two published 64-bit words carry the whole state:
//   prod_word = {items ever published : 32, byte position of the tail : 32}
//   cons_word = {items ever consumed  : 32, byte position of the head : 32}
// Both halves count modulo 2^32 (the capacity is at most 2^30 bytes, so a difference of
// positions is exact; an item takes at least 8 bytes, so at most 2^27 are queued).
// Publishing a record, or consuming one, is ONE release store of one of these words: a
// process killed at any instant has either published/consumed the record or not.
//
// Producers serialise through `put_lock`, consumers through `get_lock`: both are robust
// process-shared mutexes (robust_mutex.hpp), so a holder killed by SIGKILL hands the lock
// to the next acquirer (EOWNERDEAD) instead of wedging the queue. What a dead holder leaves:
//  * producer, killed while writing: its bytes lie beyond the published tail, invisible to
//    consumers; the next producer overwrites them. Nothing to repair.
//  * consumer, killed while decoding: cons_word was not advanced, so the record is still
//    queued and the next consumer receives it (it is delivered once to a live consumer).
//    Killed after the store: the record was consumed by the dead process (lost with it).
//  * the one multi-word update — shutdown(immediate) discarding every queued item and
//    lowering the unfinished-task count — is journaled (RingControl::journal): a recovering
//    consumer replays it; the stores are idempotent.
// Each side also caches the other side's word under its own lock (cons_seen / prod_seen),
// so in a steady stream a producer reads the consumers' cache line only when its cached
// view says the ring is full, and a consumer reads the producers' only when it has drained
// everything it last saw: one read of prod_word hands a consumer every record published
// since (the batching of a shared-memory ring without a batch API).
//
// Memory ordering: a producer writes the bytes, then stores prod_word (release); a consumer
// loads prod_word (acquire), then reads the bytes — so a put happens-before the get that
// returns its item. The cached copies are only read and written under the lock whose
// previous holder loaded them with acquire, so the chain holds through the lock.
//
// Unfinished tasks (JoinableQueue) are items_published − released, where `released` is
// raised by task_done() (under get_lock: one store) and by an immediate shutdown (journaled).
// Because items_published moves with the publishing store itself, a producer killed between
// "count the task" and "publish" cannot exist: join() never waits for a ghost item.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <utility>

#include "tandem/detail/notifier.hpp"
#include "tandem/detail/wait.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/detail/robust_mutex.hpp"
#include "tandem/multiprocessing/detail/shared_region.hpp"

namespace tandem::mp::detail {

using tandem::detail::Notifier;
using tandem::detail::Scope;

inline constexpr std::size_t kDefaultRingBytes = std::size_t{1} << 20;  // 1 MiB
inline constexpr std::size_t kMinRingBytes = 4096;
inline constexpr std::size_t kMaxRingBytes = std::size_t{1} << 30;
inline constexpr std::uint32_t kMaxItems = std::uint32_t{1} << 31;

struct RingControl {
  static constexpr std::uint32_t kOpen = 0, kShut = 1, kImmediate = 3;

  RingControl(std::uint32_t cap, std::uint32_t max_items) noexcept
      : capacity(cap), maxsize(max_items) {}

  // Immutable after construction.
  const std::uint32_t capacity;
  const std::uint32_t maxsize;  // 0: bounded only by bytes
  std::atomic<std::uint32_t> state{kOpen};

  alignas(64) RobustMutex put_lock;
  std::atomic<std::uint64_t> cons_seen{0};  // guarded by put_lock
  std::atomic<std::uint32_t> put_recoveries{0};

  alignas(64) std::atomic<std::uint64_t> prod_word{0};

  alignas(64) RobustMutex get_lock;
  std::atomic<std::uint64_t> prod_seen{0};  // guarded by get_lock
  std::atomic<std::uint32_t> released{0};   // written under get_lock
  std::atomic<std::uint32_t> get_recoveries{0};
  std::atomic<std::uint32_t> journal_valid{0};  // guarded by get_lock
  std::atomic<std::uint32_t> journal_released{0};
  std::atomic<std::uint64_t> journal_cons{0};

  alignas(64) std::atomic<std::uint64_t> cons_word{0};

  alignas(64) Notifier not_empty{Scope::shared};
  alignas(64) Notifier not_full{Scope::shared};
  alignas(64) Notifier all_done{Scope::shared};
};

class ByteRing {
 public:
  enum class Push : std::uint8_t { ok, full, shut, timeout, too_large };
  enum class Pop : std::uint8_t { item, empty, closed, timeout };

  ByteRing(std::size_t maxsize, std::size_t ring_bytes) {
    if (maxsize >= kMaxItems) throw ValueError("maxsize is too large");
    std::size_t cap = ring_bytes < kMinRingBytes ? kMinRingBytes : std::bit_ceil(ring_bytes);
    if (ring_bytes > kMaxRingBytes || cap > kMaxRingBytes)
      throw ValueError("ring_bytes must be at most " + std::to_string(kMaxRingBytes));
    region_ = SharedRegion(kDataOffset + cap, "tandem-mp-queue");
    c_ = ::new (region_.data())
        RingControl(static_cast<std::uint32_t>(cap), static_cast<std::uint32_t>(maxsize));
    data_ = static_cast<std::byte*>(region_.data()) + kDataOffset;
    mask_ = static_cast<std::uint32_t>(cap - 1);
  }
  /// Adopts the region of a ring made by another process (mp::Manager passes the memfd over
  /// SCM_RIGHTS). ValueError when the region cannot hold the ring its control block describes.
  explicit ByteRing(SharedRegion region) : region_(std::move(region)) {
    if (region_.size() < kDataOffset) throw ValueError("not a queue ring: region too small");
    c_ = region_.at<RingControl>();
    const std::uint32_t cap = c_->capacity;
    if (cap < kMinRingBytes || !std::has_single_bit(cap) || region_.size() - kDataOffset < cap)
      throw ValueError("not a queue ring: bad capacity");
    data_ = static_cast<std::byte*>(region_.data()) + kDataOffset;
    mask_ = cap - 1;
  }
  ByteRing(const ByteRing&) = delete;
  ByteRing& operator=(const ByteRing&) = delete;

  /// The shared region (its fd is what mp::Manager hands to other processes).
  const SharedRegion& region() const noexcept { return region_; }

  RingControl& control() const noexcept { return *c_; }
  std::uint32_t capacity() const noexcept { return c_->capacity; }
  std::uint32_t maxsize() const noexcept { return c_->maxsize; }
  /// The largest payload one record may carry (see the layout note above).
  std::size_t max_payload() const noexcept { return c_->capacity / 2 - kHeader; }
  std::uint32_t state() const noexcept { return c_->state.load(std::memory_order_acquire); }

  /// Appends one record of `len` bytes, written by `write(std::span<std::byte>)`. If write
  /// throws, nothing is published and the exception propagates. `lock_deadline` bounds the
  /// wait for put_lock (held only for the length of one put).
  template <class Write>
  Push try_push(std::size_t len, Write&& write, Deadline lock_deadline) {
    Guard g(c_->put_lock, lock_deadline, [this] { on_put_recovered(); });
    if (!g.held()) return Push::timeout;
    if (c_->state.load(std::memory_order_acquire) != RingControl::kOpen) return Push::shut;
    const std::uint64_t p = c_->prod_word.load(std::memory_order_relaxed);
    const std::uint32_t need = record_bytes(len);
    const std::uint32_t off = pos(p) & mask_;
    const std::uint32_t pad = c_->capacity - off < need ? c_->capacity - off : 0;
    std::uint64_t c = c_->cons_seen.load(std::memory_order_relaxed);
    if (!fits(p, c, pad + need)) {
      c = c_->cons_word.load(std::memory_order_acquire);
      c_->cons_seen.store(c, std::memory_order_relaxed);
      if (!fits(p, c, pad + need)) return Push::full;
    }
    std::uint32_t at = off;
    if (pad != 0) {
      put_header(at, 0, kPadTag);
      at = 0;
    }
    put_header(at, static_cast<std::uint32_t>(len), kRecordTag);
    write(std::span<std::byte>(data_ + at + kHeader, len));
    // No prefetch-for-write of the next slot here: records are not line-aligned, so that
    // line usually still holds the tail of this record, which a caught-up consumer is about
    // to read — claiming it made the line bounce (measured: a bimodal 4-26 M msgs/s).
    c_->prod_word.store(word(count(p) + 1, pos(p) + pad + need), std::memory_order_release);
    return Push::ok;
  }

  /// Removes the oldest record, handing its payload to `read(std::span<const std::byte>)`.
  /// If read throws DecodeError the record is consumed anyway (it can never decode); any
  /// other exception leaves it queued. `drained` tells whether the ring looked empty after.
  template <class Read>
  Pop try_pop(Read&& read, Deadline lock_deadline, bool& drained) {
    Guard g(c_->get_lock, lock_deadline, [this] { on_get_recovered(); });
    if (!g.held()) return Pop::timeout;
    const std::uint32_t st = c_->state.load(std::memory_order_acquire);
    if (st == RingControl::kImmediate) {
      discard_locked();
      return Pop::closed;
    }
    const std::uint64_t c = c_->cons_word.load(std::memory_order_relaxed);
    std::uint64_t p = c_->prod_seen.load(std::memory_order_relaxed);
    if (static_cast<std::int32_t>(count(p) - count(c)) <= 0) {  // drained what it saw
      p = c_->prod_word.load(std::memory_order_acquire);
      c_->prod_seen.store(p, std::memory_order_relaxed);
      if (count(p) == count(c)) return st != RingControl::kOpen ? Pop::closed : Pop::empty;
    }
    std::uint64_t next = 0;
    const std::span<const std::byte> record = locate(c, next);
    try {
      read(record);
    } catch (const DecodeError&) {
      c_->cons_word.store(next, std::memory_order_release);
      throw;
    }
    c_->cons_word.store(next, std::memory_order_release);
    drained = count(p) == count(next);
    // In a stream the next record is usually written already, in the producer's cache:
    // start fetching its first line now, so the next get does not stall on it under the
    // lock (prefetches never fault; a stale line is simply fetched again).
    if (!drained) __builtin_prefetch(data_ + (pos(next) & mask_));
    return Pop::item;
  }

  /// Batch push (mp::Queue::put_many): appends records `first`, `first+1`, … under ONE hold
  /// of put_lock, stopping at `n`, at the first that does not fit (status full) or exceeds
  /// max_payload() (too_large), or at a shut ring. `size(i)` is record i's length (at most
  /// max_payload()); `write(i, span)`
  /// writes it. The records are published with one release store per kPublishEvery records
  /// (so a consumer starts on a long batch early) and one at the end: a producer killed in
  /// the middle leaves a prefix of the batch queued, each record whole. If size or write
  /// throws, the records before it are published and the exception propagates. Returns the
  /// index one past the last record published; `status` says why it stopped.
  template <class Size, class Write>
  std::size_t try_push_many(std::size_t first, std::size_t n, Size&& size, Write&& write,
                            Deadline lock_deadline, Push& status) {
    Guard g(c_->put_lock, lock_deadline, [this] { on_put_recovered(); });
    if (!g.held()) {
      status = Push::timeout;
      return first;
    }
    if (c_->state.load(std::memory_order_acquire) != RingControl::kOpen) {
      status = Push::shut;
      return first;
    }
    const std::uint64_t p0 = c_->prod_word.load(std::memory_order_relaxed);
    std::uint64_t p = p0;
    std::uint64_t c = c_->cons_seen.load(std::memory_order_relaxed);
    bool refreshed = false;
    std::size_t i = first;
    status = Push::ok;
    // Publishes what was written so far (also on the way out of an exception).
    struct Publisher {
      RingControl* c;
      const std::uint64_t& p;
      std::uint64_t published;
      void publish() noexcept {
        if (p != published) c->prod_word.store(p, std::memory_order_release);
        published = p;
      }
      ~Publisher() { publish(); }
    } pub{c_, p, p0};
    for (std::uint32_t since = 0; i < n; ++i) {
      const std::size_t len = size(i);
      if (len > max_payload()) {
        status = Push::too_large;
        break;
      }
      const std::uint32_t need = record_bytes(len);
      const std::uint32_t off = pos(p) & mask_;
      const std::uint32_t pad = c_->capacity - off < need ? c_->capacity - off : 0;
      if (!fits(p, c, pad + need)) {
        if (refreshed) {
          status = Push::full;
          break;
        }
        c = c_->cons_word.load(std::memory_order_acquire);
        c_->cons_seen.store(c, std::memory_order_relaxed);
        refreshed = true;
        if (!fits(p, c, pad + need)) {
          status = Push::full;
          break;
        }
      }
      std::uint32_t at = off;
      if (pad != 0) {
        put_header(at, 0, kPadTag);
        at = 0;
      }
      put_header(at, static_cast<std::uint32_t>(len), kRecordTag);
      write(i, std::span<std::byte>(data_ + at + kHeader, len));
      p = word(count(p) + 1, pos(p) + pad + need);
      if (++since == kPublishEvery) {
        pub.publish();
        since = 0;
      }
    }
    return i;
  }

  /// Batch pop (mp::Queue::get_many): hands up to `max` (>= 1) queued records to
  /// `read(std::span<const std::byte>)` under ONE hold of get_lock and consumes them with one
  /// release store (one per kPublishEvery). Returns how many were taken; 0 with `status`
  /// empty / closed / timeout as try_pop. Exceptions as try_pop: a DecodeError consumes that
  /// record (and those before it) and propagates; any other exception leaves that record
  /// queued (those before it are consumed) and propagates.
  template <class Read>
  std::size_t try_pop_many(std::size_t max, Read&& read, Deadline lock_deadline, Pop& status) {
    Guard g(c_->get_lock, lock_deadline, [this] { on_get_recovered(); });
    if (!g.held()) {
      status = Pop::timeout;
      return 0;
    }
    const std::uint32_t st = c_->state.load(std::memory_order_acquire);
    if (st == RingControl::kImmediate) {
      discard_locked();
      status = Pop::closed;
      return 0;
    }
    const std::uint64_t c0 = c_->cons_word.load(std::memory_order_relaxed);
    std::uint64_t c = c0;
    std::uint64_t p = c_->prod_seen.load(std::memory_order_relaxed);
    bool refreshed = false;
    if (static_cast<std::int32_t>(count(p) - count(c)) <= 0) {
      p = c_->prod_word.load(std::memory_order_acquire);
      c_->prod_seen.store(p, std::memory_order_relaxed);
      refreshed = true;
      if (count(p) == count(c)) {
        status = st != RingControl::kOpen ? Pop::closed : Pop::empty;
        return 0;
      }
    }
    struct Consumer {
      RingControl* c;
      const std::uint64_t& cur;
      std::uint64_t stored;
      void publish() noexcept {
        if (cur != stored) c->cons_word.store(cur, std::memory_order_release);
        stored = cur;
      }
      ~Consumer() { publish(); }
    } pub{c_, c, c0};
    std::size_t k = 0;
    status = Pop::item;
    for (std::uint32_t since = 0; k < max; ++k) {
      if (count(p) == count(c)) {  // drained what it saw: one more look at the producers'
        if (refreshed) break;
        refreshed = true;
        p = c_->prod_word.load(std::memory_order_acquire);
        c_->prod_seen.store(p, std::memory_order_relaxed);
        if (count(p) == count(c)) break;
      }
      std::uint64_t next = 0;
      const std::span<const std::byte> record = locate(c, next);
      try {
        read(record);
      } catch (const DecodeError&) {
        c = next;
        throw;
      }
      c = next;
      if (++since == kPublishEvery) {
        pub.publish();
        since = 0;
      }
    }
    return k;
  }

  /// Approximate: whether a record of `len` bytes would fit now (or the ring is shut).
  bool can_push(std::size_t len) const noexcept {
    if (state() != RingControl::kOpen) return true;
    const std::uint64_t c = c_->cons_word.load(std::memory_order_acquire);
    const std::uint64_t p = c_->prod_word.load(std::memory_order_acquire);
    const std::uint32_t need = record_bytes(len), off = pos(p) & mask_;
    return fits(p, c, (c_->capacity - off < need ? c_->capacity - off : 0) + need);
  }
  /// Approximate: whether a record is queued (or the ring is shut).
  bool can_pop() const noexcept {
    return state() != RingControl::kOpen ||
           count(c_->prod_word.load(std::memory_order_acquire)) !=
               count(c_->cons_word.load(std::memory_order_acquire));
  }

  std::size_t size() const noexcept {
    const std::uint64_t c = c_->cons_word.load(std::memory_order_acquire);
    const std::uint64_t p = c_->prod_word.load(std::memory_order_acquire);
    return count(p) - count(c);
  }
  /// Puts not yet matched by task_done() or removed by shutdown(immediate=true).
  std::size_t unfinished() const noexcept {
    const std::uint32_t rel = c_->released.load(std::memory_order_acquire);
    return count(c_->prod_word.load(std::memory_order_acquire)) - rel;
  }

  enum class TaskDone : std::uint8_t { ok, all_done, too_many };
  TaskDone task_done() {
    Guard g(c_->get_lock, Deadline::never(), [this] { on_get_recovered(); });
    const std::uint32_t rel = c_->released.load(std::memory_order_relaxed);
    const std::uint32_t put = count(c_->prod_word.load(std::memory_order_acquire));
    if (put == rel) return TaskDone::too_many;
    c_->released.store(rel + 1, std::memory_order_release);
    return put == rel + 1 ? TaskDone::all_done : TaskDone::ok;
  }

  /// Marks the ring shut (later pushes see Push::shut; pops drain, then Pop::closed).
  /// Taken under put_lock, so a push is wholly before or wholly after it. Immediate: also
  /// discards every queued record. Returns whether records were discarded.
  bool shut(bool immediate) {
    {
      Guard g(c_->put_lock, Deadline::never(), [this] { on_put_recovered(); });
      c_->state.fetch_or(immediate ? RingControl::kImmediate : RingControl::kShut,
                         std::memory_order_acq_rel);
    }
    if (!immediate) return false;
    Guard g(c_->get_lock, Deadline::never(), [this] { on_get_recovered(); });
    return discard_locked();
  }

  /// How often a lock was taken over from a dead holder (for tests and diagnostics).
  std::uint32_t put_recoveries() const noexcept {
    return c_->put_recoveries.load(std::memory_order_relaxed);
  }
  std::uint32_t get_recoveries() const noexcept {
    return c_->get_recoveries.load(std::memory_order_relaxed);
  }

 private:
  static constexpr std::uint32_t kHeader = 8;
  // Batches publish (or consume) at least this often, so the peer can start on a long one.
  static constexpr std::uint32_t kPublishEvery = 64;
  static constexpr std::uint32_t kRecordTag = 0x31434552;  // "REC1"
  static constexpr std::uint32_t kPadTag = 0x31444150;     // "PAD1"
  static constexpr std::size_t kDataOffset = (sizeof(RingControl) + 4095) / 4096 * 4096;

  static std::uint32_t count(std::uint64_t w) noexcept { return static_cast<std::uint32_t>(w >> 32); }
  static std::uint32_t pos(std::uint64_t w) noexcept { return static_cast<std::uint32_t>(w); }
  static std::uint64_t word(std::uint32_t n, std::uint32_t p) noexcept {
    return std::uint64_t{n} << 32 | p;
  }
  static std::uint32_t record_bytes(std::size_t len) noexcept {
    return static_cast<std::uint32_t>(kHeader + ((len + 7) & ~std::size_t{7}));
  }

  bool fits(std::uint64_t p, std::uint64_t c, std::uint32_t bytes) const noexcept {
    const std::uint32_t used = pos(p) - pos(c);
    if (c_->maxsize != 0 && count(p) - count(c) >= c_->maxsize) return false;
    return c_->capacity - used >= bytes;
  }

  void put_header(std::uint32_t at, std::uint32_t len, std::uint32_t tag) noexcept {
    std::memcpy(data_ + at, &len, 4);
    std::memcpy(data_ + at + 4, &tag, 4);
  }
  void get_header(std::uint32_t at, std::uint32_t& len, std::uint32_t& tag) const noexcept {
    std::memcpy(&len, data_ + at, 4);
    std::memcpy(&tag, data_ + at + 4, 4);
  }

  // Under get_lock, with a record queued at cons word `c`: its payload, and in `next` the
  // cons word that consumes it (skipping a pad at the end of the ring).
  std::span<const std::byte> locate(std::uint64_t c, std::uint64_t& next) const {
    std::uint32_t off = pos(c) & mask_, skip = 0;
    std::uint32_t len = 0, tag = 0;
    get_header(off, len, tag);
    if (tag == kPadTag) {
      skip = c_->capacity - off;
      off = 0;
      get_header(off, len, tag);
    }
    if (tag != kRecordTag || len > max_payload())
      throw RuntimeError("tandem::mp::Queue: corrupt record header in shared memory");
    next = word(count(c) + 1, pos(c) + skip + record_bytes(len));
    return {data_ + off + kHeader, len};
  }

  // Under get_lock, with the ring shut (no push can publish any more): consume everything
  // queued and lower the unfinished count once per record, never below zero. Journaled:
  // two words change, and a holder killed between them is completed by the next holder.
  bool discard_locked() noexcept {
    const std::uint64_t p = c_->prod_word.load(std::memory_order_acquire);
    const std::uint64_t c = c_->cons_word.load(std::memory_order_relaxed);
    const std::uint32_t k = count(p) - count(c);
    if (k == 0) return false;
    const std::uint32_t rel = c_->released.load(std::memory_order_relaxed);
    const std::uint32_t unfinished = count(p) - rel;
    const std::uint32_t target = rel + (k < unfinished ? k : unfinished);
    c_->journal_cons.store(p, std::memory_order_relaxed);
    c_->journal_released.store(target, std::memory_order_relaxed);
    c_->journal_valid.store(1, std::memory_order_release);
    replay_journal();
    return true;
  }
  void replay_journal() noexcept {
    const std::uint64_t cons = c_->journal_cons.load(std::memory_order_relaxed);
    c_->prod_seen.store(cons, std::memory_order_relaxed);  // never behind cons_word
    c_->cons_word.store(cons, std::memory_order_release);
    c_->released.store(c_->journal_released.load(std::memory_order_relaxed),
                       std::memory_order_release);
    c_->journal_valid.store(0, std::memory_order_release);
  }

  void on_put_recovered() noexcept {
    // Nothing to repair: a dead producer's bytes lie past the published tail.
    c_->put_recoveries.fetch_add(1, std::memory_order_relaxed);
  }
  void on_get_recovered() noexcept {
    c_->get_recoveries.fetch_add(1, std::memory_order_relaxed);
    if (c_->journal_valid.load(std::memory_order_acquire) != 0) replay_journal();
    // prod_seen may be older than what the dead consumer saw; older is always safe.
  }

  // Holds a RobustMutex for a scope; runs `recover` when the lock came from a dead holder.
  class Guard {
   public:
    template <class Recover>
    Guard(RobustMutex& m, Deadline dl, Recover&& recover) noexcept : m_(m) {
      const auto a = dl.is_never() ? m.lock() : m.lock(dl);
      held_ = a != RobustMutex::Acquired::no;
      if (a == RobustMutex::Acquired::recovered) recover();
    }
    ~Guard() {
      if (held_) m_.unlock();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    bool held() const noexcept { return held_; }

   private:
    RobustMutex& m_;
    bool held_ = false;
  };

  SharedRegion region_;
  RingControl* c_ = nullptr;
  std::byte* data_ = nullptr;
  std::uint32_t mask_ = 0;
};

}  // namespace tandem::mp::detail
