// SPDX-License-Identifier: MIT
// The ThreadPoolExecutor scheduler (see <tandem/futures/detail/pool_scheduler.hpp> for the design).
#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "detail/thread_names.hpp"
#include "tandem/detail/asymmetric_fence.hpp"
#include "tandem/log.hpp"
#include "tandem/futures/detail/pool_scheduler.hpp"

#include "detail/cpu_count.hpp"

namespace tandem::detail {
namespace {

std::atomic<std::uint64_t> g_pool_ids{1};
std::atomic<std::uint32_t> g_unnamed_pools{0};

// The slot a thread last submitted to, keyed by pool id (ids are never reused, so a new
// pool at a dead pool's address never matches).
struct SubmitCache {
  std::uint64_t pool_id = 0;
  void* slot = nullptr;
};
thread_local SubmitCache t_submit_cache;
thread_local char t_thread_token;  // its address identifies the thread
thread_local std::size_t t_worker_index = 0;

// The private deques this thread holds in outside pools, returned when the thread exits so
// that short-lived submitting threads never use up a pool's kExternalSlots.
struct SubmitterSlots {
  struct Entry {
    std::uint64_t pool_id;
    std::weak_ptr<PoolScheduler> pool;
    std::size_t slot;
  };
  std::vector<Entry> entries;
  ~SubmitterSlots();
};
thread_local SubmitterSlots t_submitter_slots;
// Set once t_submitter_slots is destroyed: a submit from a later thread_local destructor
// uses the shared overflow deque instead.
thread_local bool t_submitter_slots_gone = false;

SubmitterSlots::~SubmitterSlots() {
  t_submitter_slots_gone = true;
  t_submit_cache = SubmitCache{};
  for (Entry& e : entries)
    if (std::shared_ptr<PoolScheduler> p = e.pool.lock()) p->release_submitter_slot(e.slot);
}

constexpr const char* kInitializerFailed =
    "A thread initializer failed, the thread pool is not usable anymore";
constexpr const char* kInheritedByFork =
    "the thread pool was inherited through fork(): its worker threads do not exist in this "
    "process";

// Every live pool, for the fork handlers. Function-local statics: a pool may be built
// during another translation unit's static initialisation.
FutexMutex& pools_mu() {
  static FutexMutex mu;
  return mu;
}
PoolScheduler*& pools_head() {
  static PoolScheduler* head = nullptr;
  return head;
}
// Thread handles of a fork()ed child's inherited pools: those threads do not exist here,
// so they are neither joined nor detached (glibc may already reuse their descriptors);
// parked where no destructor ever runs. Guarded by pools_mu().
std::vector<std::thread>*& thread_graveyard() {
  static std::vector<std::thread>* g = nullptr;
  return g;
}

// Python 3.13+: min(32, (os.process_cpu_count() or 1) + 4) — affinity-aware.
std::size_t default_workers() { return std::min<std::size_t>(32, process_cpu_count() + 4); }

void cpu_relax(int n) noexcept {
  for (int i = 0; i < n; ++i) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }
}

}  // namespace

class PoolScheduler::Finishing final : public TaskHooks {
 public:
  Finishing(PoolScheduler& p, Slot& s) : p_(p), s_(s) {}
  void finishing() noexcept override {
    s_.busy.store(0, std::memory_order_release);
    // Python's idle semaphore, counted exactly: every submit while the pool is not full
    // either consumes a token or starts a thread, and every task adds one as it finishes,
    // so tokens = threads - unfinished tasks. Added before the future completes, so a
    // caller that saw the result and submits again reuses this worker
    // (test_idle_thread_reuse).
    if (p_.nthreads_.load(std::memory_order_relaxed) < p_.max_workers_)
      p_.idle_tokens_.fetch_add(1, std::memory_order_release);
  }

 private:
  PoolScheduler& p_;
  Slot& s_;
};

PoolScheduler::PoolScheduler(ThreadPoolOptions opts)
    : id_(g_pool_ids.fetch_add(1, std::memory_order_relaxed)),
      max_workers_(opts.max_workers == 0 ? default_workers() : opts.max_workers),
      name_prefix_(opts.thread_name_prefix.empty()
                       ? "ThreadPoolExecutor-" +
                             std::to_string(g_unnamed_pools.fetch_add(1, std::memory_order_relaxed))
                       : opts.thread_name_prefix),
      initializer_(std::move(opts.initializer)),
      slots_(std::make_unique<Slot[]>(max_workers_ + kExternalSlots + 1)),
      overflow_(&slots_[max_workers_ + kExternalSlots]) {
  (void)asymmetric_fences();  // decided now, not on a submit
  [[maybe_unused]] static const int atfork = ::pthread_atfork(
      &PoolScheduler::fork_prepare, &PoolScheduler::fork_parent, &PoolScheduler::fork_child);
  pools_mu().lock();
  reg_next_ = pools_head();
  if (reg_next_) reg_next_->reg_prev_ = this;
  pools_head() = this;
  pools_mu().unlock();
}

// Runs when the executor and every worker have let go: all workers are out of worker_main
// (possibly in the calling thread, when a worker drops the last reference as it exits).
PoolScheduler::~PoolScheduler() {
  pools_mu().lock();
  if (reg_prev_) reg_prev_->reg_next_ = reg_next_;
  else pools_head() = reg_next_;
  if (reg_next_) reg_next_->reg_prev_ = reg_prev_;
  pools_mu().unlock();
  if (inherited_.load(std::memory_order_acquire)) {
    shutdown_inherited();
    return;
  }
  shutdown_.store(true, std::memory_order_seq_cst);
  for (std::thread& t : threads_) {
    if (t.get_id() == std::this_thread::get_id())
      t.detach();  // the last worker out frees the pool on its way out
    else if (t.joinable())
      t.join();  // already out of worker_main: returns at once
  }
  drain_leftovers();  // normally nothing: shutdown(wait) ran everything
}

void PoolScheduler::fork_prepare() noexcept {
  // Hold every pool's locks across fork(), so that the child inherits them unlocked.
  pools_mu().lock();
  for (PoolScheduler* p = pools_head(); p; p = p->reg_next_) {
    p->spawn_mu_.lock();
    p->reg_mu_.lock();
    p->overflow_mu_.lock();
    p->prio_.lock();
  }
}
void PoolScheduler::fork_parent() noexcept {
  for (PoolScheduler* p = pools_head(); p; p = p->reg_next_) {
    p->prio_.unlock();
    p->overflow_mu_.unlock();
    p->reg_mu_.unlock();
    p->spawn_mu_.unlock();
  }
  pools_mu().unlock();
}
void PoolScheduler::fork_child() noexcept {
  // Only the forking thread exists here: every inherited pool is unusable. Nothing else is
  // done in the handler (no callbacks run); shutdown() in the child fails what is queued.
  for (PoolScheduler* p = pools_head(); p; p = p->reg_next_) {
    p->broken_reason_.store(kInheritedByFork, std::memory_order_relaxed);
    p->inherited_.store(true, std::memory_order_relaxed);
    p->broken_.store(true, std::memory_order_release);
    p->shutdown_.store(true, std::memory_order_relaxed);
    p->prio_.unlock();
    p->overflow_mu_.unlock();
    p->reg_mu_.unlock();
    p->spawn_mu_.unlock();
  }
  pools_mu().unlock();
}

void PoolScheduler::shutdown_inherited() {
  // Tasks still queued will never run here: fail them, so that waiting on them returns.
  // Tasks that were running at fork() ran in threads the child does not have: their
  // futures never complete in the child.
  drain_leftovers();
  std::vector<std::thread> ts;
  spawn_mu_.lock();
  joined_ = true;
  ts.swap(threads_);
  spawn_mu_.unlock();
  if (ts.empty()) return;
  pools_mu().lock();
  try {
    if (!thread_graveyard()) thread_graveyard() = new std::vector<std::thread>;
    for (std::thread& t : ts) thread_graveyard()->push_back(std::move(t));
  } catch (...) {
    pools_mu().unlock();
    std::abort();  // out of memory in a fork()ed child: no safe way to drop the handles
  }
  pools_mu().unlock();
}

void PoolScheduler::release_submitter_slot(std::size_t slot) noexcept {
  reg_mu_.lock();
  slots_[max_workers_ + slot].owner.store(nullptr, std::memory_order_relaxed);
  reg_mu_.unlock();
}

std::size_t PoolScheduler::nslots() const noexcept {
  return max_workers_ + n_external_.load(std::memory_order_acquire);
}

PoolScheduler::Slot* PoolScheduler::my_slot() {
  if (t_submit_cache.pool_id == id_) return static_cast<Slot*>(t_submit_cache.slot);
  Slot* found = nullptr;
  if (t_wait_helper == this) {
    found = &slots_[t_worker_index];
  } else if (t_submitter_slots_gone) {
    found = overflow_;
  } else {
    std::vector<SubmitterSlots::Entry>& mine = t_submitter_slots.entries;
    for (const SubmitterSlots::Entry& e : mine)
      if (e.pool_id == id_) found = &slots_[max_workers_ + e.slot];
    if (!found) {
      std::erase_if(mine, [](const SubmitterSlots::Entry& e) { return e.pool.expired(); });
      mine.reserve(mine.size() + 1);  // the push_back below cannot throw
      std::size_t idx = kExternalSlots;
      reg_mu_.lock();
      std::size_t n = n_external_.load(std::memory_order_relaxed);
      for (std::size_t i = 0; i < n && idx == kExternalSlots; ++i)
        if (slots_[max_workers_ + i].owner.load(std::memory_order_relaxed) == nullptr) idx = i;
      if (idx == kExternalSlots && n < kExternalSlots) {
        idx = n;
        n_external_.store(n + 1, std::memory_order_release);
      }
      if (idx != kExternalSlots)
        slots_[max_workers_ + idx].owner.store(&t_thread_token, std::memory_order_relaxed);
      reg_mu_.unlock();
      if (idx != kExternalSlots) {
        mine.push_back(SubmitterSlots::Entry{id_, weak_from_this(), idx});
        found = &slots_[max_workers_ + idx];
      } else {
        found = overflow_;
      }
    }
  }
  t_submit_cache = SubmitCache{id_, found};
  return found;
}

void PoolScheduler::check_open(FutureCore* task) {
  if (broken_.load(std::memory_order_acquire)) {  // first, as Python
    task->release();
    throw BrokenThreadPool(broken_reason_.load(std::memory_order_relaxed));
  }
  if (shutdown_.load(std::memory_order_relaxed)) {
    task->release();
    throw RuntimeError("cannot schedule new futures after shutdown");
  }
}

void PoolScheduler::enqueue_priority(FutureCore* task, int priority) {
  check_open(task);
  // shutdown() sets shutdown_ under this lock too: a task pushed here before it is seen by
  // the workers' last scan or by drain_leftovers.
  prio_.lock();
  if (shutdown_.load(std::memory_order_relaxed)) {
    prio_.unlock();
    task->release();
    throw RuntimeError("cannot schedule new futures after shutdown");
  }
  try {
    prio_.push_locked(task, priority);
  } catch (...) {
    prio_.unlock();
    task->release();
    throw;
  }
  prio_.unlock();
  seq_cst_fence();
  after_push();
}

void PoolScheduler::enqueue(FutureCore* task) {
  check_open(task);
  Slot* s;
  try {
    s = my_slot();  // may allocate (a first submit from this thread)
  } catch (...) {
    task->release();
    throw;
  }
  if (s == overflow_) {
    overflow_mu_.lock();
    if (shutdown_.load(std::memory_order_relaxed)) {
      overflow_mu_.unlock();
      task->release();
      throw RuntimeError("cannot schedule new futures after shutdown");
    }
    s->dq.push(task);
    s->pushed.store(s->pushed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    overflow_mu_.unlock();
    seq_cst_fence();
  } else {
    s->dq.push(task);
    s->pushed.store(s->pushed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    // The hot half of an asymmetric fence (asymmetric_fence.hpp): a worker about to sleep,
    // and shutdown(), pay the heavy half, so a submit costs no `lock` instruction here.
    light_fence();
    if (shutdown_.load(std::memory_order_relaxed)) {
      // Take it back unless a worker already has it (then it runs).
      if (s->dq.take() == task) {
        s->pushed.store(s->pushed.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        task->release();
        throw RuntimeError("cannot schedule new futures after shutdown");
      }
    }
  }
  after_push();
}

// After a push and a seq_cst fence: wake a sleeper unless someone is searching (Dekker with
// the worker's sleepers_++ / searching_-- / scan), and start a worker if Python would.
void PoolScheduler::after_push() {
  if (searching_.load(std::memory_order_relaxed) == 0 &&
      sleepers_.load(std::memory_order_relaxed) != 0)
    wake_one();
  if (nthreads_.load(std::memory_order_relaxed) < max_workers_) maybe_spawn();
}

void PoolScheduler::wake_one() noexcept {
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake(epoch_, 1);
}
void PoolScheduler::wake_all() noexcept {
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(epoch_);
}

void PoolScheduler::maybe_spawn() {
  // Python: an idle worker absorbs one submit; otherwise start a thread if allowed.
  std::int64_t tok = idle_tokens_.load(std::memory_order_acquire);
  while (tok > 0) {
    if (idle_tokens_.compare_exchange_weak(tok, tok - 1, std::memory_order_acq_rel)) return;
  }
  spawn_mu_.lock();
  std::size_t n = nthreads_.load(std::memory_order_relaxed);
  if (!joined_ && n < max_workers_) {
    live_.fetch_add(1, std::memory_order_seq_cst);
    try {
      // The worker holds a reference: the pool outlives it (see the header's Lifetime).
      threads_.emplace_back([self = shared_from_this(), n] { self->worker_main(n); });
      nthreads_.store(n + 1, std::memory_order_release);
    } catch (...) {
      live_.fetch_sub(1, std::memory_order_seq_cst);
      bump_exits();
      // No thread: the task stays queued for the workers that exist (or for shutdown).
      if (n == 0) {
        spawn_mu_.unlock();
        throw;
      }
    }
  }
  spawn_mu_.unlock();
}

FutureCore* PoolScheduler::find_task(std::size_t self) {
  if (FutureCore* t = prio_.take(true)) return t;
  if (self < max_workers_) {
    if (FutureCore* t = slots_[self].dq.take()) return t;
  }
  std::size_t n = nslots();
  for (std::size_t k = 1; k <= n; ++k) {
    std::size_t i = (self + k) % n;
    if (i == self) continue;
    if (FutureCore* t = slots_[i].dq.steal()) return t;
  }
  if (FutureCore* t = overflow_->dq.steal()) return t;
  return prio_.take(false);
}

void PoolScheduler::fail_broken(FutureCore* t) {
  try {
    t->begin_set();
  } catch (...) {
    return;  // cancelled (or completed by hand): nothing to report
  }
  t->store_exception(std::make_exception_ptr(
      BrokenThreadPool(broken_reason_.load(std::memory_order_relaxed))));
  t->end_set(true);
}

void PoolScheduler::run(std::size_t self, FutureCore* t) {
  Slot& s = slots_[self];
  s.busy.store(1, std::memory_order_relaxed);
  if (broken_.load(std::memory_order_acquire)) {
    s.busy.store(0, std::memory_order_relaxed);
    fail_broken(t);
  } else {
    Finishing hooks(*this, s);
    t->run_task(&hooks);
  }
  s.completed.store(s.completed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  t->release();
}

void PoolScheduler::worker_main(std::size_t index) {
  t_wait_helper = this;
  t_worker_index = index;
  t_submit_cache = SubmitCache{id_, &slots_[index]};
  // Python's name for current_thread_name(); a short distinct one for the OS (15 bytes would
  // cut every default name to "ThreadPoolExecu").
  name_this_thread(name_prefix_ + "_" + std::to_string(index),
                   "tp" + std::to_string(id_) + "-" + std::to_string(index));
  if (initializer_) {
    try {
      initializer_();
    } catch (const std::exception& e) {
      tandem::log(LogLevel::error, "futures", std::string("Exception in initializer: ") + e.what());
      mark_broken(kInitializerFailed);
    } catch (...) {
      tandem::log(LogLevel::error, "futures", "Exception in initializer");
      mark_broken(kInitializerFailed);
    }
  }
  for (;;) {
    FutureCore* t = find_task(index);
    if (t) {
      run(index, t);
      continue;
    }
    // Searchers beyond half the workers (at least one: Go's and Tokio's limit on spinning
    // threads) look ~30x less often. A submitter that the workers outpace is read by every
    // poll of its deque, so two workers polling it each few hundred nanoseconds halve its
    // rate (thread-pool benchmark: 9.7 -> 16 M tasks/s alone); the first searcher still
    // polls fast, so a submit-result chain stays at ~0.7 us a hop.
    const std::uint32_t rank = searching_.fetch_add(1, std::memory_order_seq_cst);
    const std::size_t fast = std::max<std::size_t>(1, nthreads_.load(std::memory_order_relaxed) / 2);
    const int pause = rank < fast ? 16 : 512;
    for (int spin = 0; spin < 32 && !t; ++spin) {
      if (spin < 8) cpu_relax(pause); else std::this_thread::yield();  // 2 cores: let the submitter run
      t = find_task(index);
    }
    if (t) {
      // The last searcher found work: there may be more, so pass the baton.
      if (searching_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
          sleepers_.load(std::memory_order_seq_cst) != 0)
        wake_one();
      run(index, t);
      continue;
    }
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    std::uint32_t key = epoch_.load(std::memory_order_seq_cst);
    searching_.fetch_sub(1, std::memory_order_seq_cst);
    // Pairs with enqueue's light_fence(): either that submit sees sleepers_ (and wakes one)
    // or this scan sees its task.
    heavy_fence();
    t = find_task(index);
    if (!t && shutdown_.load(std::memory_order_seq_cst)) {
      seq_cst_fence();
      t = find_task(index);
      if (!t) {
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
        break;
      }
    }
    if (!t) {
      while (epoch_.load(std::memory_order_acquire) == key) futex_wait(epoch_, key);
    }
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    if (t) run(index, t);
  }
  t_wait_helper = nullptr;  // this thread's exit (thread_local destructors) is not ours
  t_submit_cache = SubmitCache{};
  live_.fetch_sub(1, std::memory_order_seq_cst);
  bump_exits();
}

void PoolScheduler::mark_broken(const char* reason) noexcept {
  // Only the first failure writes the reason; the flag is published after it.
  spawn_mu_.lock();
  if (!broken_.load(std::memory_order_relaxed)) {
    broken_reason_.store(reason, std::memory_order_relaxed);
    broken_.store(true, std::memory_order_release);
  }
  spawn_mu_.unlock();
}

void PoolScheduler::bump_exits() noexcept {
  exit_seq_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(exit_seq_);
}

template <class Done>
void PoolScheduler::wait_workers(Done done) noexcept {
  for (;;) {
    std::uint32_t key = exit_seq_.load(std::memory_order_seq_cst);
    if (done()) return;
    futex_wait(exit_seq_, key);
  }
}

bool PoolScheduler::help_until(FutureCore& f, Deadline deadline) {
  const std::size_t self = t_worker_index;
  // The done callback wakes this pool's sleepers. It may run in another thread after
  // remove_callback() below has already lost the race for it (the completer took it out of
  // the list), so it must not touch the pool once we can return: `state` tells us when it
  // is finished with `this`. (Its last futex_wake on our stack word is at worst a spurious
  // wake-up for a later user of that address, which every futex loop tolerates.)
  std::atomic<std::uint32_t> cb_state{0};  // 1: the callback is done with the pool
  std::uint64_t cb = 0;
  bool registered = false;
  for (;;) {
    if (f.done()) break;
    if (FutureCore* t = find_task(self)) {
      run(self, t);
      slots_[self].busy.store(1, std::memory_order_relaxed);  // the outer task goes on
      continue;
    }
    if (!registered) {
      registered = true;
      cb = f.try_add_callback([this, st = &cb_state](FutureCore&) {
        wake_all();
        st->store(1, std::memory_order_release);
        futex_wake_all(*st);
      });
      if (cb == 0) break;
    }
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    std::uint32_t key = epoch_.load(std::memory_order_seq_cst);
    heavy_fence();  // pairs with enqueue's light_fence(), as in worker_main
    FutureCore* t = f.done() ? nullptr : find_task(self);
    if (f.done() || t) {
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      if (t) {
        run(self, t);
        slots_[self].busy.store(1, std::memory_order_relaxed);
      }
      continue;
    }
    bool in_time = true;
    while (epoch_.load(std::memory_order_acquire) == key) {
      if (!futex_wait(epoch_, key, deadline) && deadline.expired()) {
        in_time = false;
        break;
      }
    }
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    if (!in_time) break;
  }
  if (cb != 0 && !f.remove_callback(cb)) {
    // Taken by the completer: wait until it no longer uses the pool (a few instructions).
    while (cb_state.load(std::memory_order_acquire) == 0) futex_wait(cb_state, 0);
  }
  return f.done();
}

void PoolScheduler::shutdown(bool wait, bool cancel_futures) {
  if (inherited_.load(std::memory_order_acquire)) {
    shutdown_inherited();
    return;
  }
  overflow_mu_.lock();
  prio_.lock();
  shutdown_.store(true, std::memory_order_seq_cst);
  prio_.unlock();
  overflow_mu_.unlock();
  heavy_fence();  // pairs with enqueue's light_fence(): a submit sees shutdown_ or is drained
  if (cancel_futures) {
    while (FutureCore* t = prio_.take_any()) {
      t->cancel();
      t->release();
    }
    std::size_t n = nslots();
    for (std::size_t i = 0; i <= n; ++i) {
      Slot& s = i == n ? *overflow_ : slots_[i];
      while (FutureCore* t = s.dq.steal()) {
        t->cancel();
        t->release();
      }
    }
  }
  wake_all();
  if (!wait) return;
  spawn_mu_.lock();
  joined_ = true;  // no new workers from now on
  spawn_mu_.unlock();
  if (t_wait_helper == this) {
    // Called by one of our own tasks: this worker cannot wait for itself (Python raises
    // "cannot join current thread" here). Wait for every other worker — except those that
    // are themselves in here, or two such tasks would wait for each other forever. This
    // thread leaves worker_main after the task, holding its reference until then.
    self_waiters_.fetch_add(1, std::memory_order_seq_cst);
    bump_exits();
    wait_workers([&] {
      return live_.load(std::memory_order_seq_cst) ==
             self_waiters_.load(std::memory_order_seq_cst);
    });
    self_waiters_.fetch_sub(1, std::memory_order_seq_cst);
  } else {
    // Every caller waits (as each of Python's shutdown(wait=True) joins every thread);
    // the one that takes the handles joins them, which returns at once.
    wait_workers([&] { return live_.load(std::memory_order_seq_cst) == 0; });
    std::vector<std::thread> ts;
    spawn_mu_.lock();
    ts.swap(threads_);
    spawn_mu_.unlock();
    for (std::thread& t : ts) t.join();
  }
  drain_leftovers();
}

// Tasks accepted before shutdown whose submitter found no worker to start (or, in a fork()
// child, that no worker will ever run): run (or fail) them in the calling thread.
void PoolScheduler::drain_leftovers() {
  std::size_t n = nslots();
  for (std::size_t i = 0; i <= n + 1; ++i) {
    Slot* s = i > n ? nullptr : i == n ? overflow_ : &slots_[i];
    while (FutureCore* t = s ? s->dq.steal() : prio_.take_any()) {
      if (broken_.load(std::memory_order_acquire))
        fail_broken(t);
      else
        t->run_task(nullptr);
      t->release();
    }
  }
}

PoolStats PoolScheduler::stats() const noexcept {
  PoolStats st;
  std::size_t n = nslots();
  for (std::size_t i = 0; i <= n; ++i) {
    const Slot& s = i == n ? *overflow_ : slots_[i];
    st.submitted += s.pushed.load(std::memory_order_relaxed);
    st.completed += s.completed.load(std::memory_order_relaxed);
    st.queued += static_cast<std::uint64_t>(s.dq.size());
    if (i < max_workers_) st.workers_busy += s.busy.load(std::memory_order_relaxed);
  }
  st.submitted += prio_.pushed();
  st.queued += prio_.size();
  st.workers = nthreads_.load(std::memory_order_relaxed);
  std::size_t ne = n_external_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < ne; ++i)
    st.submitters += slots_[max_workers_ + i].owner.load(std::memory_order_relaxed) != nullptr;
  return st;
}

}  // namespace tandem::detail
