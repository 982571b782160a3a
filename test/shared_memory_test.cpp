// Shared memory: creation, attaching, errors, owner-only names, and the name's
// lifetime: removed by the last user out, closed or dead, never under a child
// that has yet to attach.
#include "support/scratch.hpp"

#include <mproc/process.hpp>
#include <mproc/queue.hpp>
#include <mproc/shared.hpp>
#include <mproc/shared_memory.hpp>
#include <mproc/sync.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

bool exists_in_dev_shm(const std::string& name) { return mproc::test::shared_memory_exists(name); }

void do_nothing() {}

void write_text(mproc::shared_memory block, std::string text) {
  std::memcpy(block.bytes().data(), text.data(), text.size());
}

void attach_write_and_wait(std::string name, std::string path) {
  auto block = mproc::shared_memory::attach(name);
  block.bytes()[0] = std::byte{42};
  mproc::test::write_file(path, "attached");
  std::this_thread::sleep_for(60s);  // until killed
}

void create_and_wait(std::string path) {
  auto block = mproc::shared_memory::create(64);
  mproc::test::write_file(path, block.name());
  std::this_thread::sleep_for(60s);  // until killed
}

// Makes blocks of several kinds, writes their names, and waits to be killed.
void create_several_and_wait(std::string path) {
  auto block = mproc::shared_memory::create(64);
  mproc::value<int> counter;
  mproc::queue<int> items;
  mproc::event flag;
  items.put(1);
  std::string names = block.name();
  // The others' names, where the system lists them (Windows cannot list sections).
  for (const auto& name : mproc::test::shared_memory_names()) {
    if (name.starts_with("mproc_" + std::to_string(mproc::test::this_pid()) + "_") && name != block.name()) {
      names += "\n" + name;
    }
  }
  mproc::test::write_file(path, names);
  std::this_thread::sleep_for(60s);  // until killed
}

// The same as a process group leader: the test then kills the whole group.
void lead_a_group_create_several_and_wait(std::string path) {
  mproc::test::lead_process_group();
  create_several_and_wait(std::move(path));
}

std::string text_in(const mproc::shared_memory& block, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(block.bytes().data()), size);
}

}  // namespace

BOOST_AUTO_TEST_CASE(create_attach_and_share_bytes) {
  auto block = mproc::shared_memory::create(10000);
  BOOST_TEST(block.size() == 10000u);
  BOOST_TEST(block.name().size() >= 30u);  // an unguessable name
  BOOST_TEST(std::all_of(block.bytes().begin(), block.bytes().end(), [](std::byte b) { return b == std::byte{0}; }));
  auto same = mproc::shared_memory::attach(block.name());
  BOOST_TEST(same.size() == 10000u);
  block.bytes()[9999] = std::byte{7};
  BOOST_TEST((same.bytes()[9999] == std::byte{7}));
  BOOST_TEST(exists_in_dev_shm(block.name()));
  if (const auto permissions = mproc::test::shared_memory_permissions(block.name())) {
    BOOST_TEST(*permissions == 0600u);  // POSIX; a Windows section has its creator's default security
  }
}

BOOST_AUTO_TEST_CASE(clear_errors) {
  BOOST_CHECK_THROW(mproc::shared_memory::create(0), mproc::error);
  BOOST_CHECK_THROW(mproc::shared_memory::attach("mproc_test_no_such_block"), mproc::not_found_error);
  auto block = mproc::shared_memory::create("mproc_test_taken_name", 16);
  BOOST_CHECK_THROW(mproc::shared_memory::create("mproc_test_taken_name", 16), mproc::exists_error);
  block.close();
  BOOST_TEST(block.closed());
  BOOST_TEST(block.bytes().empty());
  BOOST_CHECK_THROW(block.unlink(), mproc::closed_error);
}

BOOST_AUTO_TEST_CASE(last_user_out_removes_the_name) {
  auto first = mproc::shared_memory::create(64);
  const std::string name = first.name();
  auto copy = first;
  auto second = mproc::shared_memory::attach(name);
  copy.close();  // closes `first` too: copies are one handle
  BOOST_TEST(first.closed());
  BOOST_TEST(exists_in_dev_shm(name));  // `second` still uses it
  second.close();
  BOOST_TEST(!exists_in_dev_shm(name));
}

BOOST_AUTO_TEST_CASE(unlink_removes_the_name_but_not_the_mapping) {
  auto block = mproc::shared_memory::create(64);
  const std::string name = block.name();
  block.bytes()[0] = std::byte{9};
  block.unlink();
  // Windows cannot remove a section's name while it is open: there, unlink()
  // only stops new attachers (Python's unlink() does nothing at all there).
  if (mproc::test::posix_system) BOOST_TEST(!exists_in_dev_shm(name));
  BOOST_CHECK_THROW(mproc::shared_memory::attach(name), mproc::not_found_error);
  BOOST_TEST((block.bytes()[0] == std::byte{9}));
}

MPROC_TEST_EACH_METHOD(child_writes_and_parent_may_close_at_once) {
  auto block = mproc::shared_memory::create(64);
  const std::string name = block.name();
  auto observer = mproc::shared_memory::attach(name);
  mproc::process child(mproc::process_options{.method = method}, write_text, block, std::string("from the child"));
  child.start();
  block.close();  // the child counts as a user from start(): the name stays
  child.join();
  BOOST_TEST(child.exitcode().value() == 0);
  BOOST_TEST(text_in(observer, 14) == "from the child");
  observer.close();
  BOOST_TEST(!exists_in_dev_shm(name));  // the child ended, we closed: gone
}

MPROC_TEST_EACH_METHOD(block_outlives_the_parents_close_until_the_child_ends) {
  auto block = mproc::shared_memory::create(64);
  const std::string name = block.name();
  mproc::process child(mproc::process_options{.method = method}, write_text, block, std::string("late"));
  child.start();
  block.close();
  child.join();
  BOOST_TEST(!exists_in_dev_shm(name));  // nobody left
}

// A forked child may run to its end before fork() has returned in the parent:
// its slot must be its own from its first instruction, or the last user to
// leave (that child) frees nothing and the name outlives everyone.
BOOST_AUTO_TEST_CASE(forked_children_that_end_at_once_leave_nothing_behind, *mproc::test::posix_only("fork")) {
  for (int round = 0; round < 200; ++round) {
    auto block = mproc::shared_memory::create(64);
    const std::string name = block.name();
    mproc::process child(mproc::process_options{.method = mproc::start_method::fork}, do_nothing);
    child.start();
    block.close();
    child.join();
    BOOST_TEST_REQUIRE(!exists_in_dev_shm(name), "round " << round << ": " << name << " outlived its users");
  }
}

// A pool replaces a killed worker (a fork) from a thread of its own while the
// user's thread makes and closes blocks. A block closed between the fork's
// reservation of a slot for the child and the fork itself must not keep that
// slot in the parent's name, or its name outlives every user.
BOOST_AUTO_TEST_CASE(blocks_closed_while_another_thread_forks_leave_nothing_behind,
                     *mproc::test::posix_only("fork")) {
#if defined(__SANITIZE_ADDRESS__)
  // GCC 12's ASan allocator is not fork-safe (glibc's malloc is): a child forked
  // while this thread allocates, as it does without pause here, may hang in malloc.
  mproc::test::skip_case("forks while another thread allocates, which GCC 12's ASan runtime cannot do safely");
  return;
#endif
  // The tracker (forked at the first block) starts before there is a second thread.
  mproc::shared_memory::create(64);
  std::atomic<bool> forking{true};
  std::thread forker([&] {
    for (int round = 0; round < 150; ++round) {
      mproc::process child(mproc::process_options{.method = mproc::start_method::fork}, do_nothing);
      child.start();
      child.join();
    }
    forking = false;
  });
  std::vector<std::string> names;
  while (forking) {
    auto block = mproc::shared_memory::create(64);
    names.push_back(block.name());
  }
  forker.join();
  std::size_t left = 0;
  for (const auto& name : names) left += exists_in_dev_shm(name) ? 1 : 0;
  BOOST_TEST(left == 0u, left << " of " << names.size() << " blocks outlived their users");
}

BOOST_AUTO_TEST_CASE(killed_creator_is_not_counted_any_more) {
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("name");
  mproc::process creator(create_and_wait, path);
  creator.start();
  BOOST_REQUIRE(mproc::test::eventually([&] { return !mproc::test::read_file(path).empty(); }));
  auto block = mproc::shared_memory::attach(mproc::test::read_file(path));
  const std::string name = block.name();
  creator.kill();
  creator.join();
  std::this_thread::sleep_for(2500ms);  // the creator's tracker has read end of file and looked twice
  BOOST_TEST(exists_in_dev_shm(name));  // we still use it: neither the tracker nor anyone removes it
  BOOST_TEST(block.bytes().size() == 64u);
  block.close();
  BOOST_TEST(!exists_in_dev_shm(name));  // the dead creator does not keep it
}

BOOST_AUTO_TEST_CASE(killed_user_does_not_keep_the_block) {
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("attached");
  auto block = mproc::shared_memory::create(64);
  const std::string name = block.name();
  mproc::process user(attach_write_and_wait, name, path);
  user.start();
  BOOST_REQUIRE(mproc::test::eventually([&] { return !mproc::test::read_file(path).empty(); }));
  BOOST_TEST((block.bytes()[0] == std::byte{42}));
  user.kill();
  user.join();
  block.close();
  BOOST_TEST(!exists_in_dev_shm(name));
}

// Closed while a child still uses it, then the child killed: the child never
// lets go, and the name must not wait for the tracker's sweep (a pool's
// terminate() did this to the arenas its workers kept).
MPROC_TEST_EACH_METHOD(a_block_whose_last_user_is_killed_goes_when_it_is_joined) {
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("attached");
  auto block = mproc::shared_memory::create(64);
  const std::string name = block.name();
  mproc::process user(mproc::test::with(method), attach_write_and_wait, name, path);
  user.start();
  BOOST_REQUIRE(mproc::test::eventually([&] { return !mproc::test::read_file(path).empty(); }));
  block.close();
  BOOST_TEST(exists_in_dev_shm(name));  // the child uses it
  user.kill();
  user.join();
  BOOST_TEST(!exists_in_dev_shm(name));
}

BOOST_AUTO_TEST_CASE(forked_child_counts_for_every_block_it_inherits,
                     *mproc::test::method_available(mproc::start_method::fork)) {
  auto block = mproc::shared_memory::create(64);
  const std::string name = block.name();
  // Not an argument: a forked child inherits every mapping all the same.
  mproc::process child(mproc::process_options{.method = mproc::start_method::fork},
                       [](int seconds) { std::this_thread::sleep_for(std::chrono::milliseconds(seconds)); }, 300);
  child.start();
  block.close();
  BOOST_TEST(exists_in_dev_shm(name));  // the child still uses it
  child.join();
  BOOST_TEST(!exists_in_dev_shm(name));  // its exit freed its slot, and it was the last
}

MPROC_TEST_EACH_METHOD(blocks_of_a_killed_creator_are_removed_by_its_tracker) {
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("names");
  mproc::process creator(mproc::test::with(method), create_several_and_wait, path);
  creator.start();
  BOOST_REQUIRE(mproc::test::eventually([&] { return !mproc::test::read_file(path).empty(); }));
  const auto names = mproc::test::lines_of(mproc::test::read_file(path));
  // The block, the value and its lock, the queue, the event; the block alone
  // where the names cannot be listed.
  BOOST_TEST(names.size() == (mproc::test::posix_system ? 5u : 1u));
  for (const auto& name : names) BOOST_TEST(exists_in_dev_shm(name));
  creator.kill();  // no exit handler runs: only the tracker can remove them
  creator.join();
  BOOST_TEST(mproc::test::eventually([&] {
    return std::none_of(names.begin(), names.end(), exists_in_dev_shm);
  }));
}

// What kills a whole process group or tree (Ctrl-C, `timeout`, CTest ending a
// test that ran over its time) must not kill the tracker along with the creator.
BOOST_AUTO_TEST_CASE(blocks_of_a_killed_process_group_are_removed_by_its_tracker,
                     *mproc::test::posix_only("process groups; Windows frees a section with its last handle")) {
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("names");
  mproc::process creator(mproc::test::with(mproc::start_method::spawn), lead_a_group_create_several_and_wait, path);
  creator.start();
  BOOST_REQUIRE(mproc::test::eventually([&] { return !mproc::test::read_file(path).empty(); }));
  const auto names = mproc::test::lines_of(mproc::test::read_file(path));
  BOOST_TEST(names.size() == 5u);
  mproc::test::kill_process_group(creator.pid());
  creator.join();
  BOOST_TEST(mproc::test::eventually([&] {
    return std::none_of(names.begin(), names.end(), exists_in_dev_shm);
  }));
}
