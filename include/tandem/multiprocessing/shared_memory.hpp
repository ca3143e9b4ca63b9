// SPDX-License-Identifier: MIT
// tandem::mp::SharedMemory — multiprocessing.shared_memory.SharedMemory
// (docs/multiprocessing.md#shared-memory-that-python-can-read).
//
//   mp::SharedMemory shm(std::nullopt, true, 4096);     // SharedMemory(create=True, size=4096)
//   shm.buf()[0] = std::byte{42};
//   // Python: shared_memory.SharedMemory(name="<shm.name()>").buf[0] == 42
//
// Guarantees
//  * The segment is the POSIX shared memory object "/<name()>" (shm_open), exactly where
//    CPython puts its own: Python's SharedMemory(name) attaches to tandem's and tandem's
//    SharedMemory(name) attaches to Python's. Generated names are Python's, "psm_" and eight
//    hex digits (14 characters with the slash: the limit CPython keeps for FreeBSD).
//  * Created with O_CREAT|O_EXCL and mode 0600 (less the umask, as Python): FileExistsError
//    when the name is taken; attaching to a missing name: FileNotFoundError. Other failures
//    throw the OSError subclass Python would raise. A failed creation leaves no segment behind.
//  * size() is the object's size read back with fstat, so it is >= the requested size and,
//    when attaching, whatever the creator made (the `size` argument is ignored, as Python).
//  * name() never has the leading slash; the constructor accepts the name without it, as
//    Python does (it adds the slash itself).
//  * buf() is the whole mapping, MAP_SHARED read/write; empty after close().
//  * close() unmaps and closes the descriptor (the segment lives on); unlink() removes the
//    name (FileNotFoundError when it is already gone); the destructor only closes, as
//    Python's __del__: whoever created the segment must unlink it — or let a
//    SharedMemoryManager do it, which also survives a crash of its owner.
// Thread safety: as a Python object or a file: one thread at a time per SharedMemory; the
//  bytes of buf() are plain memory, unsynchronised between processes (bring a lock).
// Cost: one descriptor and one mapping per object, rounded up to whole pages by the kernel.
// Differences from Python:
//  * move-only (a copy would double-close); SharedMemory is not picklable, pass name().
//  * no resource tracker: a SharedMemory made directly is never unlinked behind your back
//    (Python 3.11's tracker unlinks at interpreter exit every segment the process created
//    *or attached to*; use SharedMemoryManager for crash-safe cleanup).
//  * a failure while attaching never unlinks the segment (CPython's constructor calls
//    unlink() on any OSError after shm_open, even for a segment it only attached to).
// As Python: attaching to an empty (size 0) object throws ValueError("cannot mmap an empty
//  file"); the descriptor is close-on-exec (a spawned program does not inherit it).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

namespace tandem::mp {

class SharedMemory {
 public:
  /// Creates (create=true: a new segment of `size` > 0 bytes, named `name` or a fresh
  /// "psm_…" name) or attaches to the existing segment `name`. ValueError: size 0 with
  /// create, or no name without create.
  SharedMemory(std::optional<std::string> name, bool create = false, std::size_t size = 0);
  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&& other) noexcept;
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  ~SharedMemory();

  /// Without the leading slash, as Python's .name.
  std::string name() const { return name_; }
  std::size_t size() const noexcept { return size_; }
  std::span<std::byte> buf() const noexcept { return {data_, data_ ? size_ : 0}; }

  void close() noexcept;
  void unlink();

 private:
  void swap(SharedMemory& other) noexcept;

  std::string name_;
  std::size_t size_ = 0;
  std::byte* data_ = nullptr;
  int fd_ = -1;
};

}  // namespace tandem::mp
