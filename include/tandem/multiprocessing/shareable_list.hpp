// SPDX-License-Identifier: MIT
// tandem::mp::ShareableList — multiprocessing.shared_memory.ShareableList
// (docs/multiprocessing.md#shared-memory-that-python-can-read).
//
//   mp::ShareableList sl({std::int64_t{1}, 2.5, true, std::string("héllo"), std::monostate{}});
//   // Python: ShareableList(name="<sl.shm().name()>")  ->  [1, 2.5, True, 'héllo', None]
//
// Guarantees
//  * The segment holds CPython's own layout, byte for byte (native x86-64/aarch64 `struct`
//    packing): an int64 n; n+1 int64 offsets of the items from the start of the data area;
//    the data area, 8 bytes per number/bool/None and a multiple of 8 per str/bytes; n
//    8-byte NUL-padded `struct` formats ("q", "d", "xxxxxxx?", "xxxxxx?x", "<N>s"); n signed
//    bytes of back-transform codes (0 number/bool, 1 str, 2 bytes, 3 None). Python reads a
//    tandem list and tandem reads Python's, including an item one side set().
//  * Items: value_type — None (monostate), int (int64), float (double), bool, str (UTF-8
//    std::string), bytes (std::vector<std::byte>). The length is fixed at creation; an item
//    may change type on set(); a str/bytes item may not outgrow the space its slot got at
//    creation (8 * (len / 8 + 1) bytes, or 8 for a non-string): ValueError, as Python's
//    "bytes/str item exceeds available storage".
//  * Python's quirk, kept for compatibility: a str or bytes is stored NUL-padded and read
//    back with its trailing NULs stripped, so b"ab\0\0" reads back as b"ab" on both sides.
//  * Attaching (explicit ShareableList(name)) reads bytes another process wrote: every
//    offset, format, code and length is checked against the segment's size (and a str
//    against UTF-8) before use; a bad one throws ValueError — never an out-of-bounds read or
//    an allocation sized by the segment's content. The item offsets are read once, at
//    attach (as Python); formats and codes are re-read and re-checked on every access.
//  * operator[] / set() with i >= size(): std::out_of_range (Python's IndexError).
// Thread safety: none between processes, as Python (set() of one item racing a read of it
//  may read a torn value — still bounds-checked); bring an mp::Lock. One thread at a time
//  per object.
// Cost: operator[] copies the item out (a str/bytes allocates); set() writes the slot and
//  its 8-byte format; no locks, no system calls.
// Differences from Python:
//  * a str's slot is sized by its UTF-8 length. CPython 3.11 sizes it by the number of
//    code points, so a non-ASCII str is silently truncated (and may not decode); a
//    tandem-made list stores it whole, and Python reads it whole.
//  * no negative indices, no slicing, no count()/index() (a loop over operator[] does it);
//    the destructor closes the segment and never unlinks it (as Python): the creator calls
//    shm().unlink(), or uses SharedMemoryManager::ShareableList.
//  * an item whose format does not fit in 8 characters (a str of ~10 MB) throws ValueError
//    (Python fails an assertion).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "tandem/multiprocessing/shared_memory.hpp"

namespace tandem::mp {

class ShareableList {
 public:
  using value_type = std::variant<std::monostate, std::int64_t, double, bool, std::string,
                                  std::vector<std::byte>>;

  /// A new list in a new segment (named `name`, or a fresh "psm_…" name).
  explicit ShareableList(std::vector<value_type> sequence, std::optional<std::string> name = {});
  /// So that `ShareableList({1, "a"})` picks the items, not std::string's iterator pair.
  ShareableList(std::initializer_list<value_type> sequence, std::optional<std::string> name = {})
      : ShareableList(std::vector<value_type>(sequence), std::move(name)) {}
  /// Attaches to the list in segment `name` (FileNotFoundError; ValueError when malformed).
  explicit ShareableList(std::string name);

  std::size_t size() const noexcept { return offsets_.empty() ? 0 : offsets_.size() - 1; }
  value_type operator[](std::size_t i) const;
  void set(std::size_t i, const value_type& value);
  /// The `struct` formats of every item, concatenated (Python's .format).
  std::string format() const;
  SharedMemory& shm() noexcept { return shm_; }

 private:
  SharedMemory shm_;
  std::vector<std::uint64_t> offsets_;  // n + 1 item offsets from the data area's start
};

}  // namespace tandem::mp
