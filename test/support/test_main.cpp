// The main() of every test program. mproc::init() comes first: a spawned child
// is this same program, and init() runs it and exits before Boost.Test starts.
#include "scratch.hpp"

#include <mproc/init.hpp>

#include <boost/test/unit_test.hpp>

#include <sstream>

namespace {

// Each CTest entry runs one test case in a process of its own, so this checks
// every case: it may leave no unreaped child, and no shared memory block it made
// may be left in /dev/shm. (Blocks are named mproc_<creator pid>_...: cases run
// in parallel, and another case's blocks are not this one's leaks.)
struct leak_check {
  ~leak_check() {
    std::ostringstream zombies;
    for (int pid : mproc::test::zombie_children()) zombies << pid << ' ';
    BOOST_TEST(zombies.str().empty(), "children never reaped (zombies): " << zombies.str());
    const std::string ours = "mproc_" + std::to_string(mproc::test::this_pid()) + "_";
    for (const auto& name : mproc::test::shared_memory_names()) {
      BOOST_TEST(!name.starts_with(ours), "left in /dev/shm: " << name);
    }
  }
};

bool init_tests() { return true; }

int main_pid = 0;

}  // namespace

// LeakSanitizer asks this before its exit-time check. A child made by fork that
// ends with exit() still holds everything its parent's other threads referred
// to, which LSan would report as leaks: skip the check there, and only there.
extern "C" int __lsan_is_turned_off() { return main_pid != 0 && mproc::test::this_pid() != main_pid; }

BOOST_TEST_GLOBAL_FIXTURE(leak_check);

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  main_pid = mproc::test::this_pid();
  return boost::unit_test::unit_test_main(&init_tests, argc, argv);
}
