// SPDX-License-Identifier: MIT
// mp::SharedMemory and mp::SharedMemoryManager: ports of CPython's _TestSharedMemory
// (Lib/test/_test_multiprocessing.py) and interop with the real python3.
#include "tandem/multiprocessing/shared_memory.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "support/fault_support.hpp"
#include "support/fork_helper.hpp"
#include "support/shm_test_support.hpp"
#include "tandem/errors.hpp"
#include "tandem/multiprocessing/shared_memory_manager.hpp"

namespace mp = tandem::mp;
using shmtest::shm_exists;

namespace {

std::string unique_name(const char* tag) {
  return std::string("tandem_") + tag + "_" + std::to_string(::getpid());
}

void put(std::span<std::byte> buf, std::string_view s) { std::memcpy(buf.data(), s.data(), s.size()); }

std::string get(std::span<const std::byte> buf, std::size_t n) {
  return std::string(reinterpret_cast<const char*>(buf.data()), n);
}

}  // namespace

// test_shared_memory_basics
TEST(SharedMemory, Basics) {
  const int fds = faulttest::count_fds();
  const std::string name = unique_name("tsmb");
  {
    mp::SharedMemory sms(name, true, 512);
    EXPECT_EQ(sms.name(), name);
    EXPECT_GE(sms.size(), 512u);
    ASSERT_EQ(sms.buf().size(), sms.size());
    sms.buf()[0] = std::byte{42};
    EXPECT_EQ(sms.buf()[0], std::byte{42});

    mp::SharedMemory also_sms(name);  // attach: same bytes, size from fstat
    EXPECT_EQ(also_sms.buf()[0], std::byte{42});
    EXPECT_EQ(also_sms.size(), sms.size());
    also_sms.buf()[1] = std::byte{7};
    EXPECT_EQ(sms.buf()[1], std::byte{7});

    struct stat st {};
    ASSERT_EQ(::stat(("/dev/shm/" + name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777 & ~0600u, 0u);  // 0600 less the umask

    EXPECT_THROW(mp::SharedMemory(name, true, 512), tandem::FileExistsError);
    also_sms.close();
    EXPECT_TRUE(also_sms.buf().empty());
    also_sms.close();  // twice: nothing
    sms.unlink();
    EXPECT_FALSE(shm_exists(name));
    EXPECT_THROW(sms.unlink(), tandem::FileNotFoundError);
    EXPECT_EQ(sms.buf()[0], std::byte{42});  // unlinked, still mapped
  }
  EXPECT_THROW(mp::SharedMemory{name}, tandem::FileNotFoundError);
  // test_invalid_shared_memory_creation (a negative size cannot be written with size_t)
  EXPECT_THROW(mp::SharedMemory(name, true, 0), tandem::ValueError);
  EXPECT_THROW(mp::SharedMemory{std::nullopt}, tandem::ValueError);
  EXPECT_FALSE(shm_exists(name));  // a refused creation leaves nothing
  EXPECT_EQ(faulttest::count_fds(), fds);
}

// test_shared_memory_basics, the part with a generated name; and moves. (CPython's
// test_shared_memory_recreate patches the name generator to force a collision; the retry on
// FileExistsError is the same loop here, but the generator cannot be patched.)
TEST(SharedMemory, GeneratedNameAndMove) {
  mp::SharedMemory a(std::nullopt, true, 100);
  const std::string name = a.name();
  EXPECT_EQ(name.rfind("psm_", 0), 0u);
  EXPECT_EQ(name.size(), 12u);  // Python's 14-character limit, with the slash
  EXPECT_TRUE(shm_exists(name));
  mp::SharedMemory b = std::move(a);
  EXPECT_EQ(b.name(), name);
  EXPECT_GE(b.size(), 100u);
  a = std::move(b);
  EXPECT_EQ(a.name(), name);
  a.unlink();
  EXPECT_FALSE(shm_exists(name));
}

// test_shared_memory_across_processes
TEST(SharedMemory, AcrossProcesses) {
  mp::SharedMemory sms(std::nullopt, true, 64);
  const std::string name = sms.name();
  auto child = mptest::fork_child([&] {
    mp::SharedMemory other(name);
    put(other.buf(), "howdy");
    return 0;
  });
  EXPECT_EQ(child.join(), 0);
  EXPECT_EQ(get(sms.buf(), 5), "howdy");
  sms.unlink();
}

// Python attaches to tandem's segment by name, reads and writes it.
TEST(SharedMemory, PythonAttachesToTandems) {
  mp::SharedMemory shm(std::nullopt, true, 4096);
  put(shm.buf(), std::string_view("from tandem\0\x01\xff", 14));
  const std::string out = shmtest::python(
      "s = shared_memory.SharedMemory(name=sys.argv[1]); untrack(s)\n"
      "print(s.size >= 4096, bytes(s.buf[:14]).hex())\n"
      "s.buf[100:108] = b'py\\x00wrote'\n"
      "s.close()\n",
      {shm.name()});
  EXPECT_EQ(out, "True 66726f6d2074616e64656d0001ff\n");
  EXPECT_EQ(get(shm.buf().subspan(100), 8), std::string("py\0wrote", 8));
  shm.unlink();
}

// tandem attaches to a segment Python made; Python unlinks it once tandem is done.
TEST(SharedMemory, TandemAttachesToPythons) {
  auto py = shmtest::python_session(
      "s = shared_memory.SharedMemory(create=True, size=300)\n"
      "s.buf[:6] = b'python'\n"
      "print(s.name, s.size)\n"
      "sys.stdin.readline()\n"
      "print(bytes(s.buf[6:12]).decode())\n"
      "s.close(); s.unlink()\n");
  std::string line = shmtest::chomp(py.stdout_().readline());
  const std::string name = line.substr(0, line.find(' '));
  {
    mp::SharedMemory shm(name);
    EXPECT_EQ(shm.size(), 300u);
    EXPECT_EQ(get(shm.buf(), 6), "python");
    put(shm.buf().subspan(6), "tandem");
  }
  py.stdin_().write("go\n");
  EXPECT_EQ(py.stdout_().readline(), "tandem\n");
  EXPECT_EQ(py.wait(), 0);
  EXPECT_FALSE(shm_exists(name));
}

// test_shared_memory_SharedMemoryManager_basics
TEST(SharedMemoryManager, Basics) {
  const int children = faulttest::count_children();
  std::vector<std::string> names;
  {
    mp::SharedMemoryManager smm;
    EXPECT_THROW(smm.SharedMemory(10), tandem::ValueError);  // before start()
    smm.start();
    EXPECT_THROW(smm.start(), tandem::RuntimeError);
    EXPECT_EQ(faulttest::count_children(), children + 1);  // the tracker
    std::vector<mp::SharedMemory> held;
    for (int i = 0; i < 3; ++i) held.push_back(smm.SharedMemory(128));
    auto sl = smm.ShareableList({std::int64_t{7}, std::string("x")});
    for (auto& s : held) names.push_back(s.name());
    names.push_back(sl.shm().name());
    for (const auto& n : names) EXPECT_TRUE(shm_exists(n)) << n;
    mp::SharedMemory again(names[0]);  // an ordinary segment: attachable by name
    EXPECT_EQ(again.size(), held[0].size());
    held[1].unlink();  // by hand: shutdown() skips it
    smm.shutdown();
    for (const auto& n : names) EXPECT_FALSE(shm_exists(n)) << n;
    EXPECT_EQ(faulttest::count_children(), children);  // tracker reaped
    held[2].buf()[0] = std::byte{1};  // still mapped
    EXPECT_THROW(smm.SharedMemory(10), tandem::ValueError);
    EXPECT_THROW(smm.start(), tandem::RuntimeError);
    smm.shutdown();  // idempotent
  }
  {
    mp::SharedMemoryManager smm;  // the destructor shuts down
    smm.start();
    names = {smm.SharedMemory(64).name()};
  }
  EXPECT_FALSE(shm_exists(names[0]));
  EXPECT_EQ(faulttest::count_children(), children);
}

// A forked copy of the manager is inert: it neither creates nor unlinks.
TEST(SharedMemoryManager, ForkedCopyIsInert) {
  mp::SharedMemoryManager smm;
  smm.start();
  const std::string name = smm.SharedMemory(64).name();
  auto child = mptest::fork_child([&] {
    try {
      smm.SharedMemory(64);
      return 1;
    } catch (const tandem::ValueError&) {
    }
    smm.shutdown();
    return shm_exists(name) ? 0 : 2;
  });
  EXPECT_EQ(child.join(), 0);
  EXPECT_TRUE(shm_exists(name));
  smm.shutdown();
  EXPECT_FALSE(shm_exists(name));
}

// The tracker keeps nothing of its parent but its socket end and its ledger: no other
// descriptor, no shared mapping (here, a segment mapped before start()).
TEST(SharedMemoryManager, TrackerHoldsNothingOfItsParent) {
  mp::SharedMemory before_start(std::nullopt, true, 1 << 16);
  ASSERT_GT(shmtest::shared_mappings(::getpid()), 0);  // what the tracker must drop
  const auto before = shmtest::children_of(::getpid());
  mp::SharedMemoryManager smm;
  smm.start();
  int tracker = -1;
  for (int pid : shmtest::children_of(::getpid()))
    if (std::find(before.begin(), before.end(), pid) == before.end()) tracker = pid;
  ASSERT_GT(tracker, 0);
  const std::string proc = "/proc/" + std::to_string(tracker);
  const std::string fds = proc + "/fd";
  EXPECT_TRUE(shmtest::wait_until([&] { return faulttest::count_entries(fds.c_str()) == 2; }))
      << faulttest::count_entries(fds.c_str());
  EXPECT_TRUE(shmtest::wait_until([&] { return shmtest::shared_mappings(tracker) == 0; }))
      << shmtest::shared_mappings(tracker);
  smm.shutdown();
  before_start.unlink();
}
