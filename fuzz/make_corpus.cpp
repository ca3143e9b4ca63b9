// SPDX-License-Identifier: MIT
// Writes the seed corpus for serialize_fuzz: valid encodings of each fuzzed type, prefixed
// with the selector byte serialize_fuzz.cpp expects. Usage: make_corpus <dir>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_types.hpp"

namespace {

int written = 0;

template <class T>
void seed(const std::filesystem::path& dir, unsigned selector, const T& v) {
  auto bytes = tandem::serialize(v);
  std::ofstream out(dir / ("seed_" + std::to_string(selector) + "_" + std::to_string(written++)),
                    std::ios::binary);
  const char sel = static_cast<char>(selector);
  out.write(&sel, 1);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  using namespace fuzz;
  const Rec rec{7, true, Color::blue, "seed", {std::int16_t{1}, std::nullopt}, std::string("v"),
                {{"k", {true, false}}}};
  seed(dir, 0, rec);
  seed(dir, 0, Rec{});
  const Tree tree{1, {{2, {}}, {3, {{4, {}}}}}};
  seed(dir, 1, tree);
  Mixed m;
  std::get<1>(m) = "opt";
  std::get<2>(m) = std::make_unique<std::vector<int>>(3, 1);
  std::get<4>(m) = {1, 2, 3};
  std::get<5>(m) = {{1, "one"}};
  std::get<6>(m) = {{u"a", u"bc"}, {}};
  std::get<8>(m).hi = 5;
  std::get<10>(m).resize(2);
  seed(dir, 2, m);
  seed(dir, 2, Mixed{});
  seed(dir, 3, Alt{});
  seed(dir, 3, Alt{std::string("alt")});
  seed(dir, 3, Alt{tree});
  seed(dir, 3, Alt{rec});
  seed(dir, 4, std::vector<Point>{{1, 2}, {3, 4}});
  Range r;
  r.hi = 9;
  r.label = "r";
  seed(dir, 5, std::map<std::string, std::optional<Range>>{{"a", r}, {"b", std::nullopt}});
  std::printf("%d seeds in %s\n", written, dir.c_str());
}
