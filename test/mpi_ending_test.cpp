// When rank 0 of an mproc::mpi::pool is SIGKILLed in the middle of a map, the
// serving ranks end by themselves soon after (the silence limit and a little),
// and leave nothing: no process, no Open MPI shared-memory file. Under mpiexec
// and run alone (spawned ranks). These cases start their own MPI jobs (the
// helper mpi_rank_zero_dies), so they run one at a time.
#include "support/scratch.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

std::set<std::string> open_mpi_files() {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("vader_segment.")) names.insert(name);
  }
  return names;
}

// Runs the helper through `launcher` (a script CTest's MPI cases use) with a
// tag on its command line, then checks what is left.
void check_rank_zero_death(const std::string& launcher) {
  const std::string tag = "--mproc-tag=" + std::to_string(::getpid()) + launcher;
  const auto before = open_mpi_files();
  const auto start = std::chrono::steady_clock::now();
  std::ostringstream command;  // not an operator+ chain: see compile_errors_test.cpp
  command << MPROC_MPI_LAUNCHERS << "/mpi-run-" << launcher << ' ' << MPROC_RANK_ZERO_DIES << ' ' << tag << " 2>&1";
  const auto result = mproc::test::run_command(command.str());
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(result.output.find("dies with 2 serving ranks busy") != std::string::npos, result.output);
  BOOST_TEST((took < 15s), "the job took " << std::chrono::duration<double>(took).count() << " s to end");
  std::this_thread::sleep_for(500ms);  // what the runtime reaps after the job's end
  // "[-]": the pattern does not match pgrep's own shell, whose command line holds it.
  const auto left = mproc::test::run_command("pgrep -f -a -- '[-]" + tag.substr(1) + "'");
  BOOST_TEST(left.output.empty(), "ranks left running: " << left.output);
  std::string new_files;
  for (const auto& name : open_mpi_files()) {
    if (!before.contains(name)) new_files += name + " ";
  }
  BOOST_TEST(new_files.empty(), "left in /dev/shm: " << new_files);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mpi_rank_zero_lost)

BOOST_AUTO_TEST_CASE(under_mpiexec_the_serving_ranks_end_by_themselves) { check_rank_zero_death("n3"); }

BOOST_AUTO_TEST_CASE(spawned_ranks_end_by_themselves) { check_rank_zero_death("spawn2"); }

BOOST_AUTO_TEST_SUITE_END()
