// SPDX-License-Identifier: MIT
// tandem::mpi::init / finalize, the build-id check across ranks, and the worker ranks' loop.
#include "mpi/runtime.hpp"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tandem/log.hpp"
#include "tandem/errors.hpp"
#include "tandem/mpi.hpp"
#include "tandem/serialize.hpp"
#include "tandem/shipping/build_id.hpp"
#include "shipping/known_functions.hpp"
#include "tandem/shipping/remote_exception.hpp"
#include "tandem/shipping/ship.hpp"

namespace tandem::mpi::detail {

Runtime& runtime() {
  static Runtime rt;
  return rt;
}

std::uint64_t Backoff::next() noexcept {
  ++n_;
  // ~64 polls (an Improbe is ~0.1-0.3 µs), then 16 yields (3 ranks on 2 cores: let the
  // others run), then sleeps. Each stage is bounded; the sleeps cap at max_ns_.
  if (n_ <= 64) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    return 0;
  }
  if (n_ <= 80) {
    sched_yield();
    return 0;
  }
  const unsigned k = std::min(n_ - 80, 30u);
  return std::min<std::uint64_t>(std::uint64_t{1000} << k, max_ns_);
}

void run_batch(std::span<const std::byte> in, std::vector<std::byte>& out,
               shipping::KnownFunctions& known,
               const std::function<void(std::vector<std::byte>&)>& send) {
  std::size_t pos = 0;
  shipping::Task t;
  while (pos < in.size()) {
    TaskHeader h;
    if (in.size() - pos < sizeof h) throw RuntimeError("tandem::mpi: truncated task batch");
    std::memcpy(&h, in.data() + pos, sizeof h);
    pos += sizeof h;
    if (h.args_len > in.size() - pos) throw RuntimeError("tandem::mpi: truncated task batch");
    const auto args = in.subspan(pos, static_cast<std::size_t>(h.args_len));
    pos += static_cast<std::size_t>(h.args_len);
    const std::size_t fn = known.find(h.trampoline, h.function, h.check);
    if (known.maybe_slow(fn) && !out.empty()) send(out);
    const std::size_t at = out.size();
    out.resize(at + 8);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      t.trampoline = h.trampoline;
      t.function = h.function;
      t.check = h.check;
      t.kind = static_cast<shipping::TaskKind>(h.kind);
      const shipping::ResolvedTask r = shipping::resolve(t, shipping::TaskKind::call);
      reinterpret_cast<shipping::CallTrampoline>(r.trampoline)(r.function, args, out);
    } catch (...) {
      out.resize(at + 8);
      out.push_back(std::byte{1});
      tandem::serialize_append(out, shipping::record_exception(std::current_exception()));
    }
    const std::chrono::nanoseconds took = std::chrono::steady_clock::now() - t0;
    known.ran(fn, static_cast<std::uint64_t>(took.count()));
    const std::uint64_t len = out.size() - at - 8;
    std::memcpy(out.data() + at, &len, 8);
  }
}

namespace {

constexpr int kIdBytes = 72;  // source, length, up to 64 id bytes, padding

std::string hex_of(const unsigned char* rec) {
  static const char* digits = "0123456789abcdef";
  std::string s = rec[0] == 0 ? "GNU build-id " : "file identity ";
  for (int i = 0; i < rec[1]; ++i) {
    s += digits[rec[2 + i] >> 4];
    s += digits[rec[2 + i] & 15];
  }
  return s;
}

// Every rank must run the very binary rank 0 runs: shipped tasks name code by offsets.
void check_build_ids(const Runtime& rt) {
  const shipping::BuildId& id = shipping::build_id();
  unsigned char mine[kIdBytes] = {};
  mine[0] = id.source() == shipping::BuildId::Source::gnu_note ? 0 : 1;
  const std::size_t n = std::min<std::size_t>(id.bytes().size(), 64);
  mine[1] = static_cast<unsigned char>(n);
  std::memcpy(mine + 2, id.bytes().data(), n);
  std::vector<unsigned char> all(static_cast<std::size_t>(rt.size) * kIdBytes);
  MPI_Allgather(mine, kIdBytes, MPI_BYTE, all.data(), kIdBytes, MPI_BYTE, MPI_COMM_WORLD);
  bool bad = false;
  for (int r = 1; r < rt.size; ++r) {
    const unsigned char* rec = all.data() + static_cast<std::size_t>(r) * kIdBytes;
    if (std::memcmp(rec, all.data(), kIdBytes) == 0) continue;
    bad = true;
    if (rt.rank == 0 || rt.rank == r)
      tandem::log(LogLevel::critical, "mpi",
          "tandem::mpi: rank " + std::to_string(r) + " runs a different binary from rank 0 (" +
              hex_of(rec) + " on rank " + std::to_string(r) + ", " + hex_of(all.data()) +
              " on rank 0): every rank of the job must run the same executable, since "
              "shipped tasks name functions by their offsets in it. Aborting the job.");
  }
  if (bad) {
    MPI_Abort(MPI_COMM_WORLD, 3);
  }
}

void wait_send(MPI_Request& req, Backoff& bo) {
  if (req == MPI_REQUEST_NULL) return;
  bo.reset();
  for (;;) {
    int flag = 0;
    MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
    if (flag) return;
    if (std::uint64_t ns = bo.next()) {
      timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      nanosleep(&ts, nullptr);
    }
  }
}

[[noreturn]] void serve(Runtime& rt) {
  Backoff bo(rt.worker_max_idle_ns), send_bo(rt.worker_max_idle_ns);
  std::vector<std::byte> in, out, sending;
  MPI_Request sreq = MPI_REQUEST_NULL;
  shipping::KnownFunctions known;
  // One result message in flight: the tasks go on while it travels. `out` is left empty.
  const std::function<void(std::vector<std::byte>&)> send = [&](std::vector<std::byte>& o) {
    wait_send(sreq, send_bo);
    std::swap(o, sending);
    o.clear();
    if (sending.size() > static_cast<std::size_t>(INT32_MAX)) {
      tandem::log(LogLevel::critical, "mpi",
          "tandem::mpi: rank " + std::to_string(rt.rank) +
              ": a result batch exceeds 2 GiB; aborting");
      MPI_Abort(MPI_COMM_WORLD, 4);
    }
    MPI_Isend(sending.data(), static_cast<int>(sending.size()), MPI_BYTE, 0, kTagResults,
              rt.comm, &sreq);
  };
  for (;;) {
    int flag = 0;
    MPI_Message msg;
    MPI_Status st;
    MPI_Improbe(0, MPI_ANY_TAG, rt.comm, &flag, &msg, &st);
    if (!flag) {
      if (std::uint64_t ns = bo.next()) {
        timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
        nanosleep(&ts, nullptr);
      }
      continue;
    }
    bo.reset();
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    in.resize(static_cast<std::size_t>(count));
    MPI_Mrecv(in.data(), count, MPI_BYTE, &msg, &st);
    if (st.MPI_TAG == kTagExit) break;
    out.clear();
    try {
      run_batch(in, out, known, send);
    } catch (const std::exception& e) {
      tandem::log(LogLevel::critical, "mpi",
          "tandem::mpi: rank " + std::to_string(rt.rank) + ": " + e.what() + "; aborting the job");
      MPI_Abort(MPI_COMM_WORLD, 4);
    }
    if (!out.empty()) send(out);
  }
  wait_send(sreq, send_bo);
  MPI_Comm_free(&rt.comm);
  rt.finalized = true;
  MPI_Finalize();
  std::exit(0);
}

void finalize_at_exit() { tandem::mpi::finalize(); }

}  // namespace
}  // namespace tandem::mpi::detail

namespace tandem::mpi {

void init(int& argc, char**& argv) {
  detail::Runtime& rt = detail::runtime();
  if (rt.inited) return;
  int flag = 0;
  MPI_Initialized(&flag);
  int provided = 0;
  if (!flag) {
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  } else {
    MPI_Query_thread(&provided);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rt.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &rt.size);
  if (provided < MPI_THREAD_SERIALIZED && rt.rank == 0)
    tandem::log(LogLevel::warning, "mpi",
        "tandem::mpi: warning: the MPI library grants thread level " + std::to_string(provided) +
            ", below MPI_THREAD_SERIALIZED: MpiPoolExecutor's communicator thread may "
            "misbehave");
  if (const char* s = std::getenv("TANDEM_MPI_MAX_IDLE_SLEEP_US")) {
    long us = std::strtol(s, nullptr, 10);
    if (us > 0) rt.worker_max_idle_ns = static_cast<std::uint64_t>(us) * 1000;
  }
  detail::check_build_ids(rt);
  MPI_Comm_dup(MPI_COMM_WORLD, &rt.comm);
  rt.inited = true;
  if (rt.rank != 0) detail::serve(rt);
  if (rt.size == 1)
    tandem::log(LogLevel::info, "mpi",
        std::string("tandem::mpi: world size is 1 (started without mpirun, or with -n 1): "
                    "MpiPoolExecutor will run tasks on a local process pool (one worker process "
                    "per CPU unless MpiPoolOptions::local_workers says otherwise). Start the "
                    "program as `mpirun -n N ") +
            (argc > 0 && argv && argv[0] ? argv[0] : "./app") + "` to get N-1 worker ranks.");
  std::atexit(detail::finalize_at_exit);
}

void finalize() {
  detail::Runtime& rt = detail::runtime();
  if (!rt.inited || rt.finalized || rt.rank != 0) return;
  // An executor still open (a leaked or static one): shut it down so no task is lost and its
  // communicator thread lets go of MPI.
  if (detail::PoolCore::Impl* a = rt.active.load(std::memory_order_acquire)) {
    (void)a;
    tandem::log(LogLevel::warning, "mpi",
        "tandem::mpi: finalize() with an MpiPoolExecutor still open: waiting for its tasks");
  }
  for (;;) {
    std::uint32_t s = rt.slot.load(std::memory_order_acquire);
    if (s == 0) break;
    if (detail::PoolCore::Impl* a = rt.active.load(std::memory_order_acquire))
      detail::shutdown_active(a);
    tandem::detail::futex_wait(rt.slot, s, tandem::detail::Deadline::after(duration(0.1)));
  }
  rt.finalized = true;
  for (int r = 1; r < rt.size; ++r) MPI_Send(nullptr, 0, MPI_BYTE, r, detail::kTagExit, rt.comm);
  MPI_Comm_free(&rt.comm);
  int done = 0;
  MPI_Finalized(&done);
  if (!done) MPI_Finalize();
}

int rank() {
  const detail::Runtime& rt = detail::runtime();
  if (!rt.inited) throw RuntimeError("tandem::mpi::rank(): call tandem::mpi::init() first");
  return rt.rank;
}
int world_size() {
  const detail::Runtime& rt = detail::runtime();
  if (!rt.inited) throw RuntimeError("tandem::mpi::world_size(): call tandem::mpi::init() first");
  return rt.size;
}

}  // namespace tandem::mpi
