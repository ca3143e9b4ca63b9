// SPDX-License-Identifier: MIT
// The byte layout of CPython's ShareableList (Lib/multiprocessing/shared_memory.py), as pure
// functions over a segment's bytes: what ShareableList uses and what fuzz/
// shareable_list_fuzz.cpp attacks. The reading side treats the segment as untrusted: every
// failure is a tandem::ValueError, never a read outside `seg`, and nothing is allocated
// beyond what `seg`'s own size bounds.
//
// Layout (all native-endian, every field 8-aligned because every slot is a multiple of 8):
//   [0, 8)                 int64 n
//   [8, 8 (n + 2))         int64 offsets[n + 1] of the items, from the data area's start
//   data = 8 (n + 2)       the items: slot i is [data + offsets[i], data + offsets[i + 1])
//   fmts = data + off[n]   n × 8 bytes: each item's struct format, NUL-padded
//   codes = fmts + 8 n     n × int8: back-transform codes 0 number/bool, 1 str, 2 bytes, 3 None
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tandem/multiprocessing/shareable_list.hpp"

namespace tandem::mp::detail::shareable {

using Value = ShareableList::value_type;
using Offsets = std::vector<std::uint64_t>;

/// Bytes a list of `items` needs (Python's requested_size). ValueError when an item's
/// format would not fit in 8 characters.
std::size_t encoded_size(const std::vector<Value>& items);

/// Writes the whole list into `seg` (at least encoded_size(items) bytes); returns the
/// offsets.
Offsets encode(std::span<std::byte> seg, const std::vector<Value>& items);

/// Reads and checks n and the offsets of the list in `seg`; ValueError when malformed.
Offsets read_offsets(std::span<const std::byte> seg);

/// Item i's format (checked against its slot and code). Requires i < offsets.size() - 1
/// and offsets from read_offsets/encode for this very `seg`.
std::string item_format(std::span<const std::byte> seg, const Offsets& offsets, std::size_t i);

/// Item i's value, checked as item_format does (and a str as UTF-8).
Value read_item(std::span<const std::byte> seg, const Offsets& offsets, std::size_t i);

/// Stores `value` as item i, as Python's __setitem__. ValueError when a str/bytes does not
/// fit the slot.
void write_item(std::span<std::byte> seg, const Offsets& offsets, std::size_t i,
                const Value& value);

}  // namespace tandem::mp::detail::shareable
