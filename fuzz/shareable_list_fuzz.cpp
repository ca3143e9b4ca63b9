// SPDX-License-Identifier: MIT
// libFuzzer target for the ShareableList decoder (src/multiprocessing/shareable_list_codec):
// the input is a whole segment, as another (possibly hostile) process could have written it.
// Every read must return an item or throw tandem::ValueError — never crash, over-read,
// allocate by a length the bytes claim, or hit undefined behaviour (ASan+UBSan). Then every
// item is overwritten (a value picked by the input's first byte) and read back, as set()
// on an attached list does: the writer must stay inside the segment too.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "multiprocessing/shareable_list_codec.hpp"
#include "tandem/errors.hpp"

namespace codec = tandem::mp::detail::shareable;

namespace {

codec::Value pick(std::uint8_t sel) {
  switch (sel % 6) {
    case 0: return std::monostate{};
    case 1: return std::int64_t{-5};
    case 2: return 0.5;
    case 3: return true;
    case 4: return std::string(sel % 13, 'x');
    default: return std::vector<std::byte>(sel % 11, std::byte{0});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::byte> seg(reinterpret_cast<const std::byte*>(data),
                             reinterpret_cast<const std::byte*>(data) + size);
  codec::Offsets offsets;
  try {
    offsets = codec::read_offsets(seg);
  } catch (const tandem::ValueError&) {
    return 0;
  }
  const std::size_t n = offsets.size() - 1;
  for (std::size_t i = 0; i < n; ++i) {
    try {
      (void)codec::item_format(seg, offsets, i);
      (void)codec::read_item(seg, offsets, i);
    } catch (const tandem::ValueError&) {
    }
  }
  const codec::Value value = pick(size > 0 ? data[0] : 0);
  for (std::size_t i = 0; i < n; ++i) {
    try {
      codec::write_item(seg, offsets, i, value);
      if (codec::read_item(seg, offsets, i) != value && value.index() < 4) __builtin_trap();
    } catch (const tandem::ValueError&) {
    }
  }
  return 0;
}
