// SPDX-License-Identifier: MIT
// The byte-level record store under mp::Manager's dict(), list() and Namespace()
// (manager_containers.hpp has the specification). Every member runs with the container's
// lock held; mutations mark the header dirty around the bytes they move, so that a process
// killed half-way leaves a container that later callers refuse (RuntimeError) instead of
// reading torn records.
#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tandem/errors.hpp"
#include "tandem/multiprocessing/detail/manager_containers.hpp"

namespace tandem::mp::detail {

namespace {

constexpr std::size_t kRecordHead = 2 * sizeof(std::uint32_t);  // key length, value length

std::uint32_t read_u32(const std::byte* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::uint32_t checked_len(std::size_t n) {
  if (n > UINT32_MAX) throw std::length_error("tandem::mp::Manager: item larger than 4 GiB");
  return static_cast<std::uint32_t>(n);
}

/// Marks the header dirty for the life of the scope (cleared on a normal exit or a throw:
/// only a process's death leaves it set).
class DirtyScope {
 public:
  explicit DirtyScope(RecordsHeader& h) noexcept : h_(h) {
    h_.dirty.store(1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  ~DirtyScope() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    h_.dirty.store(0, std::memory_order_relaxed);
  }
  DirtyScope(const DirtyScope&) = delete;
  DirtyScope& operator=(const DirtyScope&) = delete;

 private:
  RecordsHeader& h_;
};

}  // namespace

std::size_t Records::next(std::size_t at) const noexcept {
  return at + kRecordHead + read_u32(data_ + at) + read_u32(data_ + at + sizeof(std::uint32_t));
}

Bytes Records::key(std::size_t at) const noexcept {
  return {data_ + at + kRecordHead, read_u32(data_ + at)};
}

Bytes Records::value(std::size_t at) const noexcept {
  const std::uint32_t klen = read_u32(data_ + at);
  return {data_ + at + kRecordHead + klen, read_u32(data_ + at + sizeof(std::uint32_t))};
}

std::size_t Records::find_key(Bytes k) const noexcept {
  for (std::size_t at = 0; at < end(); at = next(at)) {
    const Bytes r = key(at);
    if (r.size() == k.size() && std::memcmp(r.data(), k.data(), k.size()) == 0) return at;
  }
  return end();
}

std::size_t Records::find_value(Bytes v, std::size_t from) const noexcept {
  for (std::size_t at = from; at < end(); at = next(at)) {
    const Bytes r = value(at);
    if (r.size() == v.size() && std::memcmp(r.data(), v.data(), v.size()) == 0) return at;
  }
  return end();
}

std::size_t Records::nth(std::size_t i) const noexcept {
  std::size_t at = 0;
  while (i-- > 0 && at < end()) at = next(at);
  return at;
}

std::size_t Records::last() const noexcept {
  std::size_t at = 0;
  for (std::size_t n = 1; n < size(); ++n) at = next(at);
  return at;
}

void Records::need(std::size_t old_len, std::size_t new_len) const {
  if (new_len > old_len && new_len - old_len > cap_ - end())
    throw std::length_error(std::string("tandem::mp::Manager: the ") + what_ +
                            " is full (max_bytes " + std::to_string(cap_) + ")");
}

void Records::move_tail(std::size_t at, std::size_t old_len, std::size_t new_len) noexcept {
  const std::size_t used = end();
  std::memmove(data_ + at + new_len, data_ + at + old_len, used - at - old_len);
  h_->used = used - old_len + new_len;
}

void Records::put(std::size_t at, Bytes k, Bytes v) noexcept {
  const auto kl = static_cast<std::uint32_t>(k.size()), vl = static_cast<std::uint32_t>(v.size());
  move_tail(at, 0, kRecordHead + k.size() + v.size());
  std::memcpy(data_ + at, &kl, sizeof kl);
  std::memcpy(data_ + at + sizeof kl, &vl, sizeof vl);
  if (!k.empty()) std::memcpy(data_ + at + kRecordHead, k.data(), k.size());
  if (!v.empty()) std::memcpy(data_ + at + kRecordHead + k.size(), v.data(), v.size());
  ++h_->count;
}

void Records::insert(std::size_t at, Bytes k, Bytes v) {
  checked_len(k.size());
  checked_len(v.size());
  need(0, kRecordHead + k.size() + v.size());
  DirtyScope d(*h_);
  put(at, k, v);
}

void Records::set_value(std::size_t at, Bytes v) {
  const std::uint32_t vl = checked_len(v.size());
  const std::size_t body = at + kRecordHead + read_u32(data_ + at);
  const std::size_t old_len = read_u32(data_ + at + sizeof(std::uint32_t));
  need(old_len, v.size());
  DirtyScope d(*h_);
  move_tail(body, old_len, v.size());
  std::memcpy(data_ + at + sizeof(std::uint32_t), &vl, sizeof vl);
  if (!v.empty()) std::memcpy(data_ + body, v.data(), v.size());
}

void Records::erase(std::size_t at) {
  DirtyScope d(*h_);
  const std::size_t len = next(at) - at;
  std::memmove(data_ + at, data_ + at + len, end() - at - len);
  h_->used -= len;
  --h_->count;
}

void Records::clear() noexcept {
  DirtyScope d(*h_);
  h_->used = 0;
  h_->count = 0;
}

std::vector<RawRecord> Records::raw() const {
  std::vector<RawRecord> out;
  out.reserve(size());
  for (std::size_t at = 0; at < end(); at = next(at)) {
    const Bytes k = key(at), v = value(at);
    out.push_back({{k.begin(), k.end()}, {v.begin(), v.end()}});
  }
  return out;
}

void Records::assign(const std::vector<RawRecord>& records) {
  // The same records in another order: the total length is unchanged, so this cannot fail.
  DirtyScope d(*h_);
  h_->used = 0;
  h_->count = 0;
  for (const RawRecord& r : records) put(end(), r.first, r.second);
}

void check_records(const RecordsHeader& h, ManagedKind kind) {
  if (h.dirty.load(std::memory_order_relaxed) != 0)
    throw RuntimeError(std::string("tandem::mp::Manager: the ") + kind_name(kind) +
                       " is broken: a process died while modifying it");
}

}  // namespace tandem::mp::detail
