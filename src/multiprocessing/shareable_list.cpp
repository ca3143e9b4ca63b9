// SPDX-License-Identifier: MIT
// tandem::mp::ShareableList: a SharedMemory holding CPython's layout (shareable_list_codec).
#include "tandem/multiprocessing/shareable_list.hpp"

#include <stdexcept>
#include <utility>

#include "multiprocessing/shareable_list_codec.hpp"
#include "tandem/errors.hpp"

namespace tandem::mp {

namespace codec = detail::shareable;

namespace {

// After shm().close() the mapping is gone: the offsets must not be used on it.
std::span<std::byte> mapped(const SharedMemory& shm) {
  const std::span<std::byte> seg = shm.buf();
  if (seg.empty()) throw ValueError("the ShareableList's segment is closed");
  return seg;
}

}  // namespace

ShareableList::ShareableList(std::vector<value_type> sequence, std::optional<std::string> name)
    : shm_(std::move(name), true, codec::encoded_size(sequence)) {
  offsets_ = codec::encode(shm_.buf(), sequence);
}

ShareableList::ShareableList(std::string name) : shm_(std::move(name)) {
  offsets_ = codec::read_offsets(shm_.buf());
}

ShareableList::value_type ShareableList::operator[](std::size_t i) const {
  if (i >= size()) throw std::out_of_range("index out of range");
  return codec::read_item(mapped(shm_), offsets_, i);
}

void ShareableList::set(std::size_t i, const value_type& value) {
  if (i >= size()) throw std::out_of_range("assignment index out of range");
  codec::write_item(mapped(shm_), offsets_, i, value);
}

std::string ShareableList::format() const {
  const auto seg = mapped(shm_);
  std::string all;
  for (std::size_t i = 0; i < size(); ++i) all += codec::item_format(seg, offsets_, i);
  return all;
}

}  // namespace tandem::mp
