// SPDX-License-Identifier: MIT
// A distributed word count over the files of a directory with tandem::MpiPoolExecutor.
//
//   mpirun --oversubscribe -n 3 ./mpi_word_count            # generates a corpus in /tmp
//   mpirun --hostfile hosts -n 8 ./mpi_word_count --dir /shared/texts
//
// Rank 0 lists the directory and maps count_words over the paths (chunks of a few files);
// each worker rank reads its files and returns a word → count table; rank 0 merges them, as
// tandem::progress shows (the map knows its total: the number of paths), and prints the most
// frequent words. On several machines the directory must be visible at the
// same path on every node (NFS, a cluster file system): tasks ship paths, not contents.
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "tandem/futures/progress.hpp"
#include "tandem/mpi.hpp"

namespace fs = std::filesystem;

namespace {

using Counts = std::unordered_map<std::string, std::uint64_t>;

// Runs on a worker rank.
Counts count_words(std::string path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  Counts c;
  std::string w;
  while (in >> w) {
    std::string clean;
    for (char ch : w)
      if (std::isalpha(static_cast<unsigned char>(ch)))
        clean += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (!clean.empty()) ++c[clean];
  }
  return c;
}

// A reproducible corpus: Zipf-ish draws from a small vocabulary.
fs::path make_corpus(int files) {
  static const char* vocab[] = {"the", "of", "and", "to", "in", "a", "is", "that", "for", "it",
                                "as", "was", "with", "be", "by", "on", "not", "he", "i", "this",
                                "are", "or", "his", "from", "at", "which", "but", "have", "an",
                                "had", "they", "you", "were", "their", "one", "all", "we",
                                "can", "her", "has", "there", "been", "if", "more", "when"};
  constexpr int kVocab = sizeof vocab / sizeof vocab[0];
  char tmpl[] = "/tmp/tandem_wordcount_XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  std::mt19937 rng(42);
  std::vector<double> weights;
  for (int i = 0; i < kVocab; ++i) weights.push_back(1.0 / (i + 1));
  std::discrete_distribution<int> pick(weights.begin(), weights.end());
  for (int f = 0; f < files; ++f) {
    std::ofstream out(dir / ("part" + std::to_string(f) + ".txt"));
    for (int i = 0; i < 20000; ++i) out << vocab[pick(rng)] << (i % 12 == 11 ? ".\n" : " ");
  }
  return dir;
}

void usage() {
  std::puts(
      "usage: mpirun -n RANKS mpi_word_count [--dir DIR] [--help]\n"
      "Counts the words of the files in DIR with tandem::MpiPoolExecutor::map: the other ranks\n"
      "read the files, rank 0 merges their counts and prints the most frequent words.\n"
      "  --dir DIR  the files to count (default: 24 generated files in a new /tmp directory,\n"
      "             removed afterwards); on several nodes DIR must have the same path on each\n"
      "  --help     this text\n"
      "Without mpirun (world size 1) the files are read by a local process pool.");
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      usage();  // before init: no MPI needed to read it
      return 0;
    }
  tandem::mpi::init(argc, argv);
  // Line by line even into mpirun's pipe, so that stdout and the progress lines on stderr
  // stay in the order they were written.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  fs::path dir;
  bool generated = false;
  for (int i = 1; i + 1 < argc; i += 2)
    if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  if (dir.empty()) {
    dir = make_corpus(24);
    generated = true;
  }
  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());

  tandem::MpiPoolExecutor ex;
  std::printf("counting words in %zu files of %s on %zu worker rank(s)\n", paths.size(),
              dir.c_str(), ex.num_workers());
  std::map<std::string, std::uint64_t> total;
  std::uint64_t words = 0;
  for (const Counts& c : tandem::progress(
           ex.map(count_words, paths, tandem::MapOptions{.chunksize = 2}), {.desc = "files"})) {
    for (const auto& [w, n] : c) {
      total[w] += n;
      words += n;
    }
  }
  std::vector<std::pair<std::uint64_t, std::string>> top;
  for (const auto& [w, n] : total) top.emplace_back(n, w);
  std::sort(top.rbegin(), top.rend());
  std::printf("%llu words, %zu distinct; most frequent:\n", static_cast<unsigned long long>(words),
              total.size());
  for (std::size_t i = 0; i < std::min<std::size_t>(10, top.size()); ++i)
    std::printf("  %-8s %llu\n", top[i].second.c_str(), static_cast<unsigned long long>(top[i].first));
  if (generated) fs::remove_all(dir);
  return 0;
}
