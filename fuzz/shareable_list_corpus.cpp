// SPDX-License-Identifier: MIT
// Writes the seed corpus for shareable_list_fuzz: valid ShareableList segments, encoded as
// tandem (and CPython) lay them out. Usage: shareable_list_corpus [<dir>] (default: seeds)
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "multiprocessing/shareable_list_codec.hpp"

namespace codec = tandem::mp::detail::shareable;

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : "seeds";
  std::filesystem::create_directories(dir);
  const std::vector<std::vector<codec::Value>> lists{
      {},
      {std::int64_t{1}},
      {std::string("howdy"), std::vector<std::byte>(5, std::byte{'H'}), -273.154,
       std::int64_t{100}, std::monostate{}, true, std::int64_t{42}},
      {std::string("h\xc3\xa9llo w\xc3\xb6rld"), std::vector<std::byte>{}, std::string()},
  };
  int written = 0;
  for (const auto& items : lists) {
    std::vector<std::byte> seg(codec::encoded_size(items));
    codec::encode(seg, items);
    std::ofstream out(dir / ("seed_" + std::to_string(written++)), std::ios::binary);
    out.write(reinterpret_cast<const char*>(seg.data()), static_cast<std::streamsize>(seg.size()));
  }
  return 0;
}
