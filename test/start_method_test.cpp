// Choosing how children are made.
#include "support/scratch.hpp"

#include <mproc/process.hpp>

#include <boost/test/unit_test.hpp>


using mproc::start_method;
using mproc::test::read_file;
using mproc::test::write_file;

namespace {

int marker = 0;  // set by the parent before start: only a forked child sees it

void report(std::string path) {
  write_file(path, std::to_string(marker) + " " + std::string(mproc::to_string(mproc::get_start_method())) + " " +
                       std::to_string(mproc::test::parent_pid()));
}

std::string run_reporting(const mproc::process_options& options, const mproc::test::scratch_dir& dir) {
  const std::string path = dir.file("report");
  mproc::process p(options, report, path);
  p.start();
  p.join();
  BOOST_TEST(p.exitcode().value() == 0);
  return read_file(path);
}

}  // namespace

BOOST_AUTO_TEST_CASE(all_start_methods_of_the_platform_spawn_first) {
  const auto methods = mproc::all_start_methods();
  BOOST_TEST(mproc::to_string(start_method::forkserver) == "forkserver");
  BOOST_TEST_REQUIRE(!methods.empty());
  BOOST_TEST((methods[0] == start_method::spawn));
  if (!mproc::test::posix_system) {  // Windows: spawn alone, and the others are refused by name
    BOOST_TEST(methods.size() == 1u);
    BOOST_CHECK_EXCEPTION(mproc::set_start_method(start_method::fork), mproc::process_error,
                          [](const mproc::process_error& e) {
                            return std::string(e.what()).find("'fork' is not supported on this platform") !=
                                   std::string::npos;
                          });
    return;
  }
  BOOST_TEST_REQUIRE(methods.size() == 3u);
  BOOST_TEST((methods[1] == start_method::fork));
  BOOST_TEST((methods[2] == start_method::forkserver));
}

BOOST_AUTO_TEST_CASE(default_is_spawn_and_can_be_changed, *mproc::test::method_available(start_method::fork)) {
  BOOST_TEST((mproc::get_start_method() == start_method::spawn));
  mproc::set_start_method(start_method::fork);
  BOOST_TEST((mproc::get_start_method() == start_method::fork));
}

BOOST_AUTO_TEST_CASE(each_method_makes_the_child_it_says, *mproc::test::method_available(start_method::fork)) {
  mproc::test::scratch_dir dir;
  marker = 42;
  const std::string me = std::to_string(mproc::test::this_pid());
  // spawn: a fresh run of the program, a direct child
  BOOST_TEST(run_reporting({.method = start_method::spawn}, dir) == "0 spawn " + me);
  // fork: a copy of this process, so it sees the marker
  BOOST_TEST(run_reporting({.method = start_method::fork}, dir) == "42 spawn " + me);
  // forkserver: a fresh program, whose parent is the server
  const std::string served = run_reporting({.method = start_method::forkserver}, dir);
  BOOST_TEST(served.starts_with("0 spawn "), served);
  BOOST_TEST(!served.ends_with(" " + me), served);
}

BOOST_AUTO_TEST_CASE(default_applies_and_travels_to_the_child,
                     *mproc::test::method_available(start_method::fork)) {
  mproc::test::scratch_dir dir;
  marker = 7;
  mproc::set_start_method(start_method::fork);
  BOOST_TEST(run_reporting({}, dir) == "7 fork " + std::to_string(mproc::test::this_pid()));
  mproc::set_start_method(start_method::forkserver);
  const std::string served = run_reporting({}, dir);
  BOOST_TEST(served.starts_with("0 forkserver "), served);
  // a per-process method wins over the default
  BOOST_TEST(run_reporting({.method = start_method::fork}, dir).starts_with("7 forkserver "));
}
