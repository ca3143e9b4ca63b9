// libFuzzer target for tandem's decoder. Input: one selector byte, then bytes handed to
// tandem::deserialize<T> for the selected T (fuzz_types.hpp). Properties:
//  * decoding arbitrary bytes either succeeds or throws tandem::DecodeError — never crashes,
//    over-reads, leaks or hits undefined behaviour (built with ASan+UBSan), never allocates
//    beyond what the input length justifies (libFuzzer's -rss_limit_mb / -malloc_limit_mb);
//  * what decodes re-encodes, and the re-encoding decodes to an equal value whose encoding is
//    the same bytes (not necessarily the input's: a map may arrive unsorted).
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
  if (tandem::serialize(again) != once) std::abort();
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
