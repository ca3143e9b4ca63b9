// SPDX-License-Identifier: MIT
// tandem::mp::detail — the machinery under mp::Manager and its proxies (manager.hpp has the
// specification): what a handle carries on the wire, the per-process cache of attached
// objects, and the calls into src/multiprocessing/manager.cpp that talk to the manager's server
// process.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "tandem/multiprocessing/detail/shared_region.hpp"

namespace tandem::mp::detail {

enum class ManagedKind : std::uint32_t {
  none = 0,
  lock,
  rlock,
  event,
  semaphore,
  bounded_semaphore,
  value,
  array,
  queue,
  joinable_queue,
  condition,
  barrier,
  dict,
  list,
  ns,  // Namespace
};

/// A readable name for error messages ("Value", "Queue", ...).
const char* kind_name(ManagedKind k) noexcept;

/// 16 random bytes (getrandom): the server's abstract socket name is derived from the
/// token; the secret authenticates a request (the name is visible in /proc/net/unix).
struct ManagerKey {
  std::array<std::uint8_t, 16> token{};
  std::array<std::uint8_t, 16> secret{};
  friend bool operator==(const ManagerKey&, const ManagerKey&) = default;
};

/// What a handle carries: which manager, which object, and what the receiver must find.
struct ObjectRef {
  ManagerKey key;
  std::uint32_t id = 0;  // 0: an empty handle
  ManagedKind kind = ManagedKind::none;
  std::uint64_t tag = 0;    // type_tag<T>() for Value/Array/Queue, 0 otherwise
  std::uint64_t count = 0;  // Array length; 0 otherwise
};

/// The page every process attached to a manager maps: `state` is 0 while the manager runs,
/// 1 once it was shut down (every proxy call then raises RuntimeError); `server_pid` is the
/// server's pid (written by the owner before any handle exists), which each process watches
/// through a pidfd so that blocked proxy calls notice the server's death.
struct ManagerControl {
  std::atomic<std::uint32_t> state{0};
  std::atomic<std::int32_t> server_pid{0};
};

/// How often a proxy call blocked on a managed object re-checks that the manager still runs
/// (not shut down, server alive): the longest it can stay asleep after either event.
inline constexpr std::chrono::milliseconds kManagerRecheck{100};
inline constexpr std::uint32_t kManagerRunning = 0, kManagerShut = 1, kHandleEmpty = 2;

/// A process's link to one manager: the mapped control page.
class ManagerLink {
 public:
  /// Opens a pidfd on the server named by the control page (-1 when that fails: the server
  /// is then taken to be alive, as before pidfds existed).
  ManagerLink(ManagerKey key, SharedRegion control) noexcept;
  ~ManagerLink();
  ManagerLink(const ManagerLink&) = delete;
  ManagerLink& operator=(const ManagerLink&) = delete;
  const ManagerKey& key() const noexcept { return key_; }
  ManagerControl& control() const noexcept { return *control_.at<ManagerControl>(); }
  int control_fd() const noexcept { return control_.fd(); }
  /// False once the server process has exited (killed, or after shutdown): one poll(2) of
  /// the pidfd, no waiting. Called by blocked proxy calls every kManagerRecheck.
  bool server_alive() const noexcept;

 private:
  ManagerKey key_;
  SharedRegion control_;
  int pidfd_ = -1;
};

/// A mapped object in this process; subclasses hold the typed view (a Lock on the region's
/// LockState, a QueueCore adopting the ring, ...).
struct ManagedObject {
  ManagedObject() noexcept = default;
  explicit ManagedObject(SharedRegion r) noexcept : region(std::move(r)) {}
  ManagedObject(const ManagedObject&) = delete;
  ManagedObject& operator=(const ManagedObject&) = delete;
  virtual ~ManagedObject() = default;
  /// The fd the manager's server must hold for this object.
  virtual int fd() const noexcept { return region.fd(); }
  /// Run by the owner at Manager::shutdown(): queues shut down so that sleepers wake.
  virtual void on_shutdown() noexcept {}
  SharedRegion region;  // empty when a subobject owns it (a queue's ring)
};

using MakeObject = std::shared_ptr<ManagedObject> (*)(SharedRegion&&);

struct Attached {
  std::shared_ptr<ManagerLink> link;
  std::shared_ptr<ManagedObject> object;
};

/// Finds the object of `ref` in this process's cache, or connects to its manager's server,
/// receives the memfd (SCM_RIGHTS), checks that the region holds at least `min_bytes`, and
/// builds the object with `make`. Errors: RuntimeError (manager gone, shut down, unknown
/// object, authentication), DecodeError (the server's record does not match kind/tag/count).
Attached attach(const ObjectRef& ref, std::size_t min_bytes, MakeObject make);

/// For an empty handle: a state word that reads kHandleEmpty.
const std::atomic<std::uint32_t>& empty_state() noexcept;

/// Throws the RuntimeError for a proxy whose state word is not kManagerRunning.
[[noreturn]] void throw_proxy_state(std::uint32_t state, ManagedKind kind);
/// Throws RuntimeError("... the manager's server process died ...") for a blocked call.
[[noreturn]] void throw_server_died(ManagedKind kind);

/// Checks the fixed part of a handle read from the wire; DecodeError on mismatch.
void check_ref(const ObjectRef& ref, std::uint32_t magic, std::uint8_t version,
               ManagedKind expected_kind, std::uint64_t expected_tag);

inline constexpr std::uint32_t kHandleMagic = 0x524d4754;  // "TGMR"
inline constexpr std::uint8_t kHandleVersion = 1;

/// FNV-1a, for type tags.
constexpr std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 0xcbf29ce484222325ull) {
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

/// A tag naming T (its spelling as the compiler prints it, its size and alignment): the same
/// binary gives the same tag in every process, and Value<int> vs Value<long> differ.
template <class T>
constexpr std::uint64_t type_tag() {
  constexpr std::string_view name = __PRETTY_FUNCTION__;
  std::uint64_t h = fnv1a(name);
  h = (h ^ sizeof(T)) * 0x100000001b3ull;
  h = (h ^ alignof(T)) * 0x100000001b3ull;
  return h | 1;  // never 0 (0 means "untyped kind")
}

}  // namespace tandem::mp::detail
