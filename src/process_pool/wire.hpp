// SPDX-License-Identifier: MIT
// <src/process_pool/wire.hpp> — the frames a ProcessPoolExecutor and its workers exchange
// on each worker's private stream socket. Internal, but a header so the fuzzer can reach it.
//
// A frame is an 8-byte header {u32 body length, u32 type} and a body:
//   tasks   (parent → worker): records {u64 id, u64 trampoline, u64 function, u64 check,
//                                        u32 args length, u32 flags} + the argument bytes
//   hello   (worker → parent): {u32 pid, u32 build-id length} + the build-id bytes
//   results (worker → parent): records {u64 id, u32 outcome length, u32 run time in µs}
//                                        + the outcome bytes (shipping::run's output)
// Many tasks travel in one tasks frame and many results in one results frame: batching, not
// the transport, is what makes a process pool fast (one write and one wake per batch).
// Both ends run the same binary (the hello carries the build-id), so integers are in native
// byte order. Every length is checked against the bytes present before use: a malformed
// frame is a DecodeError for the caller (the pool then kills that worker and fails its
// tasks), never an over-read. Headers are read with memcpy: records are not aligned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "tandem/errors.hpp"

namespace tandem::detail {

enum class FrameType : std::uint32_t { tasks = 1, hello = 2, results = 3 };


struct FrameHeader {
  std::uint32_t len;
  std::uint32_t type;
};
struct TaskRecord {
  std::uint64_t id, trampoline, function, check;
  std::uint32_t args_len, flags;
};
struct ResultRecord {
  std::uint64_t id;
  std::uint32_t len, run_us;
};
struct Hello {
  std::uint32_t pid, id_len;
};

/// No frame is larger (a corrupt length must not make the reader wait or allocate forever).
inline constexpr std::uint32_t kMaxFrameBody = 1u << 30;

/// Starts a frame at the end of `out`; returns where, for finish_frame.
inline std::size_t begin_frame(std::vector<std::byte>& out, FrameType type) {
  const std::size_t at = out.size();
  FrameHeader h{0, static_cast<std::uint32_t>(type)};
  out.resize(at + sizeof h);
  std::memcpy(out.data() + at, &h, sizeof h);
  return at;
}
/// Writes the body length of the frame begun at `at`. ValueError when it exceeds the bound.
inline void finish_frame(std::vector<std::byte>& out, std::size_t at) {
  const std::size_t body = out.size() - at - sizeof(FrameHeader);
  if (body > kMaxFrameBody) throw ValueError("tandem::ProcessPoolExecutor: frame too large");
  const auto len = static_cast<std::uint32_t>(body);
  std::memcpy(out.data() + at, &len, sizeof len);
}
template <class T>
void append_pod(std::vector<std::byte>& out, const T& v) {
  const std::size_t at = out.size();
  out.resize(at + sizeof v);
  std::memcpy(out.data() + at, &v, sizeof v);
}
inline void append_bytes(std::vector<std::byte>& out, std::span<const std::byte> b) {
  out.insert(out.end(), b.begin(), b.end());
}

/// The next complete frame at the start of `buf`: its size including the header, or 0 when
/// more bytes are needed. DecodeError for an unknown type or an impossible length.
inline std::size_t next_frame(std::span<const std::byte> buf, FrameType& type,
                              std::span<const std::byte>& body) {
  FrameHeader h;
  if (buf.size() < sizeof h) return 0;
  std::memcpy(&h, buf.data(), sizeof h);
  if (h.type < 1 || h.type > 3)
    throw DecodeError("tandem: process pool frame of unknown type " + std::to_string(h.type));
  if (h.len > kMaxFrameBody)
    throw DecodeError("tandem: process pool frame length " + std::to_string(h.len) +
                      " exceeds the bound");
  if (buf.size() - sizeof h < h.len) return 0;
  type = static_cast<FrameType>(h.type);
  body = buf.subspan(sizeof h, h.len);
  return sizeof h + h.len;
}

/// Calls fn(TaskRecord, args bytes) for each record of a tasks body.
template <class Fn>
void for_each_task(std::span<const std::byte> body, Fn&& fn) {
  while (!body.empty()) {
    TaskRecord r;
    if (body.size() < sizeof r) throw DecodeError("tandem: truncated task record");
    std::memcpy(&r, body.data(), sizeof r);
    body = body.subspan(sizeof r);
    if (body.size() < r.args_len) throw DecodeError("tandem: task arguments overrun the frame");
    fn(r, body.first(r.args_len));
    body = body.subspan(r.args_len);
  }
}

/// Calls fn(ResultRecord, outcome bytes) for each record of a results body.
template <class Fn>
void for_each_result(std::span<const std::byte> body, Fn&& fn) {
  while (!body.empty()) {
    ResultRecord r;
    if (body.size() < sizeof r) throw DecodeError("tandem: truncated result record");
    std::memcpy(&r, body.data(), sizeof r);
    body = body.subspan(sizeof r);
    if (body.size() < r.len) throw DecodeError("tandem: task outcome overruns the frame");
    fn(r, body.first(r.len));
    body = body.subspan(r.len);
  }
}

/// Decodes a hello body: the worker's pid and build-id bytes.
inline Hello decode_hello(std::span<const std::byte> body, std::span<const std::byte>& id) {
  Hello h;
  if (body.size() < sizeof h) throw DecodeError("tandem: truncated hello");
  std::memcpy(&h, body.data(), sizeof h);
  if (body.size() - sizeof h != h.id_len) throw DecodeError("tandem: bad hello length");
  id = body.subspan(sizeof h);
  return h;
}

/// The page a worker shares with the pool (a memfd the pool sends at the handshake). The
/// worker stores `running` (seq_cst) before it runs a task and `finished` after; the pool
/// reads them to know which task a dead worker was running and when it started (timeouts).
/// The result log follows the page in the same memfd (from kLogOffset): a results frame being
/// built — an 8-byte frame header, then the result records of the tasks finished since the
/// worker's last send. The worker appends a task's record, then stores `committed` (the
/// records' byte count, release) and only then `finished`: a result is durable the moment its
/// task returns. After a send it stores 0. When a worker dies, the pool reads the records up
/// to `committed` (bounds-checked, as any frame) and delivers those of tasks it has not
/// completed yet; a record it already received through the socket is skipped (its task is no
/// longer in flight). The worker grows the memfd (ftruncate) when a record does not fit; the
/// pool maps it at the size it finds then.
/// `cancel` slots hold ids of tasks cancelled after they were sent: the worker checks them
/// after publishing `running` and skips such a task; the pool writes the slot, then reads
/// `running` — so at least one side sees the other (Dekker), and a cancelled task that did
/// start has its worker killed.
struct WorkerPage {
  std::uint64_t running;   // atomic_ref'ed by both sides
  std::uint64_t committed;  // bytes of result records in the log
  std::uint64_t finished;
  std::uint64_t started_ns;  // CLOCK_MONOTONIC of the running task's start
  std::uint32_t ready;       // 1 once the initializer returned
  std::uint32_t initializing;  // 1 from the call of the initializer on (none: stays 0)
  // The map chunk being run (shipping/detail/shipped_map.hpp, ChunkProgress): its id (0: none), and
  // its finished items, serialized one after another in the log right after the committed
  // records: `partial_count` values in `partial_bytes` bytes (the bytes are stored first).
  std::uint64_t partial_id;
  std::uint64_t partial_count;
  std::uint64_t partial_bytes;
  static constexpr int kCancelSlots = 16;
  std::uint64_t cancel[kCancelSlots];
};
inline constexpr std::size_t kLogOffset = 4096;         // the log starts on the next page
inline constexpr std::size_t kInitialLog = 64 * 1024;  // grown by the worker when needed
static_assert(sizeof(WorkerPage) <= kLogOffset);

}  // namespace tandem::detail
