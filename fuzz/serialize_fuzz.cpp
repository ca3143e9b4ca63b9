// SPDX-License-Identifier: MIT
// libFuzzer target for tandem's decoder. Input: one selector byte, then bytes handed to
// tandem::deserialize<T> for the selected T (fuzz_types.hpp). Properties:
//  * decoding arbitrary bytes either succeeds or throws tandem::DecodeError — never crashes,
//    over-reads, leaks or hits undefined behaviour (built with ASan+UBSan), never allocates
//    beyond what the input length justifies (libFuzzer's -rss_limit_mb / -malloc_limit_mb);
//  * what decodes re-encodes, and the re-encoding decodes to an equal value whose encoding has
//    the same length and decodes to an equal value again. Not "the same bytes": an
//    unordered_map/unordered_set is written in iteration order, and two equal unordered
//    containers built by different insertion sequences iterate differently (found by this
//    fuzzer: {0,1} decoded then re-inserted came out {1,0}). Ordered types are compared
//    byte for byte below.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fuzz_types.hpp"

namespace {

template <class T>
void check(std::span<const std::byte> in) {
  T v;
  try {
    tandem::deserialize_into(in, v);
  } catch (const tandem::DecodeError&) {
    return;  // the only acceptable failure
  }
  const auto once = tandem::serialize(v);
  if (once.size() != tandem::serialized_size(v)) std::abort();
  T again{};
  tandem::deserialize_into(once, again);  // must not throw: it is our own encoding
  if (!fuzz::equal(v, again)) std::abort();
  const auto twice = tandem::serialize(again);
  if constexpr (fuzz::has_unordered<T>) {
    if (twice.size() != once.size()) std::abort();
    T third{};
    tandem::deserialize_into(twice, third);
    if (!fuzz::equal(v, third)) std::abort();
  } else {
    if (twice != once) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: check<fuzz::Rec>(in); break;
    case 1: check<fuzz::Tree>(in); break;
    case 2: check<fuzz::Mixed>(in); break;
    case 3: check<fuzz::Alt>(in); break;
    case 4: check<std::vector<fuzz::Point>>(in); break;
    case 5: check<std::map<std::string, std::optional<fuzz::Range>>>(in); break;
  }
  return 0;
}
