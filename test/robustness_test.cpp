// What must hold when things go wrong: killed parents, dead servers, corrupt
// start messages, leaked descriptors, short-lived threads, program exit.
#include "support/scratch.hpp"

#include <mproc/pool.hpp>
#include <mproc/process.hpp>

#include "payload.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using mproc::test::read_file;
using mproc::test::write_file;

namespace {

void return_at_once() {}
int square(int x) { return x * x; }
int sleep_ms_then_return(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
void sleep_seconds(int seconds) { std::this_thread::sleep_for(std::chrono::seconds(seconds)); }

// Writes how many descriptors (handles) beyond stdio it has, with details.
void count_descriptors(std::string path, std::vector<int> parent_opened) {
  write_file(path, mproc::test::descriptors_beyond_stdio(parent_opened));
}

// A middle process: starts a grandchild, says its pid, then waits to be killed.
void start_grandchild_and_wait(std::string path, bool daemon, int method) {
  mproc::process grandchild(mproc::process_options{.daemon = daemon,
                                                   .method = static_cast<mproc::start_method>(method)},
                            sleep_seconds, 60);
  grandchild.start();
  write_file(path, std::to_string(grandchild.pid()));
  sleep_seconds(60);
}

// On POSIX the grandchild gets its death signal (`expected_end` is -9 or -15);
// on Windows the job object of its parent kills it, daemon or not.
void grandchild_ends_when_parent_killed(mproc::start_method method, bool daemon, int expected_end) {
  mproc::test::adopt_orphans();  // so that the test can reap them (POSIX)
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("grandchild");
  mproc::process middle(mproc::process_options{.method = method}, start_grandchild_and_wait, path, daemon,
                        static_cast<int>(method));
  middle.start();
  BOOST_REQUIRE(mproc::test::eventually([&] { return !read_file(path).empty(); }));
  const int grandchild = std::stoi(read_file(path));
  BOOST_REQUIRE(mproc::test::process_running(grandchild));
  mproc::test::kill_process(middle.pid());
  middle.join();
  BOOST_TEST(middle.exitcode().value() == -9);
  const auto end = mproc::test::reap_adopted(grandchild);
  BOOST_REQUIRE_MESSAGE(end.has_value(), "the grandchild outlived its killed parent");
  if (mproc::test::posix_system) BOOST_TEST(*end == expected_end);
  if (method == mproc::start_method::forkserver) {
    // The middle's own fork server was adopted too, and ended with the middle:
    // by its death signal, or by seeing its request channel close, whichever came first.
    std::vector<int> adopted;
    BOOST_TEST(mproc::test::eventually([&] { return !(adopted = mproc::test::zombie_children()).empty(); }));
    for (int pid : adopted) BOOST_TEST(mproc::test::reap_adopted(pid).has_value());
  }
}

std::string framed(const std::string& bytes) {
  const std::uint32_t magic = mproc::detail::frame_magic;
  const std::uint64_t size = bytes.size();
  return std::string(reinterpret_cast<const char*>(&magic), sizeof magic) +
         std::string(reinterpret_cast<const char*>(&size), sizeof size) + bytes;
}

// A well-formed start: the payload frame, then its handles (none).
std::string start_message(const mproc::detail::child_payload& payload) {
  return framed(mproc::detail::encode_payload(payload)) + std::string(sizeof(std::uint32_t), '\0');
}

std::string payload_calling(const mproc::detail::code_address& entry) {
  std::ostringstream call;
  {
    mproc::detail::output_archive out(call);
    out(entry, false);
  }
  mproc::detail::child_payload payload;
  payload.name = "Process-crafted";
  payload.call = call.str();
  return start_message(payload);
}

void write_parent_pid(std::string path) { write_file(path, std::to_string(mproc::test::parent_pid())); }

void take_text(std::string) {}

}  // namespace

BOOST_AUTO_TEST_SUITE(descriptors)

BOOST_AUTO_TEST_CASE(spawned_child_inherits_no_descriptor_beyond_stdio) {
  const auto inheritable = mproc::test::open_inheritable_descriptors();
  mproc::test::scratch_dir dir;
  for (auto method : mproc::all_start_methods()) {
    if (method == mproc::start_method::fork) continue;  // a forked child is a copy, descriptors and all
    const std::string path = dir.file(std::string(mproc::to_string(method)));
    mproc::process p(mproc::process_options{.method = method}, count_descriptors, path, inheritable);
    p.start();
    p.join();
    BOOST_TEST(read_file(path).starts_with("0 "), mproc::to_string(method) << ": " << read_file(path));
  }
  mproc::test::close_descriptors(inheritable);
}

BOOST_AUTO_TEST_CASE(parent_leaks_no_descriptor_per_child) {
  for (auto method : mproc::all_start_methods()) {
    mproc::process warm_up(mproc::process_options{.method = method}, return_at_once);
    warm_up.start();
    warm_up.join();
    const int before = mproc::test::open_descriptor_count();
    for (int i = 0; i < 20; ++i) {
      mproc::process p(mproc::process_options{.method = method}, return_at_once);
      p.start();
      p.join();
    }
    BOOST_TEST(mproc::test::open_descriptor_count() == before, mproc::to_string(method));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(killed_parent)

MPROC_TEST_EACH_METHOD(daemon_grandchild_is_killed_with_its_parent) {
  grandchild_ends_when_parent_killed(method, true, -9);
}

MPROC_TEST_EACH_METHOD(non_daemon_grandchild_is_terminated_with_its_parent) {
  grandchild_ends_when_parent_killed(method, false, -15);
}

BOOST_AUTO_TEST_CASE(child_started_from_a_thread_outlives_the_thread) {
  // PR_SET_PDEATHSIG fires when the forking thread ends: children must not die
  // with the short-lived thread that started them.
  for (auto method : mproc::all_start_methods()) {
    mproc::process p(mproc::process_options{.daemon = true, .method = method}, sleep_seconds, 30);
    std::thread([&] { p.start(); }).join();
    std::this_thread::sleep_for(300ms);
    BOOST_TEST(p.is_alive(), mproc::to_string(method));
    p.kill();
    p.join();
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(forkserver)

BOOST_AUTO_TEST_CASE(server_is_restarted_after_it_died,
                     *mproc::test::method_available(mproc::start_method::forkserver)) {
  mproc::test::scratch_dir dir;
  auto server_pid = [&](const std::string& name) {
    mproc::process p(mproc::process_options{.method = mproc::start_method::forkserver}, write_parent_pid,
                     dir.file(name));
    p.start();
    p.join();
    BOOST_TEST(p.exitcode().value() == 0);
    return std::stoi(read_file(dir.file(name)));
  };
  const int first = server_pid("first");
  BOOST_TEST(first != mproc::test::this_pid());
  BOOST_TEST(server_pid("second") == first);  // one server serves every request
  mproc::test::kill_process(first);
  BOOST_REQUIRE(mproc::test::eventually([&] { return !mproc::test::process_running(first); }));
  const int third = server_pid("third");
  BOOST_TEST(third != first);
}

// The workers end with their server (death signal); their exit status, which
// only the server could read, is lost. The pool must not wait for it for ever.
BOOST_AUTO_TEST_CASE(a_pool_goes_on_when_its_server_is_killed,
                     *mproc::test::method_available(mproc::start_method::forkserver)) {
  mproc::test::scratch_dir dir;
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = mproc::start_method::forkserver});
  auto running = workers.map_async(sleep_ms_then_return, std::vector<int>{3000, 3000, 3000, 3000}, 1);
  mproc::process probe(mproc::process_options{.method = mproc::start_method::forkserver}, write_parent_pid,
                       dir.file("server"));
  probe.start();
  probe.join();
  const int server = std::stoi(read_file(dir.file("server")));
  std::this_thread::sleep_for(300ms);  // the workers run their tasks
  mproc::test::kill_process(server);
  BOOST_CHECK_THROW(running.get(20s), mproc::worker_lost_error);  // not a timeout_error: no hang
  BOOST_TEST(workers.apply(square, 6) == 36);                     // new workers, from a new server
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(corrupt_start_message)

BOOST_AUTO_TEST_CASE(garbage_is_a_clear_error_and_exit_code_one) {
  const auto result = mproc::test::run_self_with_start_message("this is not a start message at all");
  BOOST_TEST(result.exit_code == 1);
  BOOST_TEST(result.output.find("could not start") != std::string::npos, result.output);
  BOOST_TEST(result.output.find("frame mark") != std::string::npos, result.output);
}

BOOST_AUTO_TEST_CASE(truncated_message_is_a_clear_error) {
  const auto result = mproc::test::run_self_with_start_message(framed("abc").substr(0, 10));
  BOOST_TEST(result.exit_code == 1);
  BOOST_TEST(result.output.find("closed the channel") != std::string::npos, result.output);
}

BOOST_AUTO_TEST_CASE(target_in_a_module_not_loaded_is_named) {
  const auto result = mproc::test::run_self_with_start_message(payload_calling({"/nowhere/libmissing.so", 0x1000}));
  BOOST_TEST(result.exit_code == 1);
  BOOST_TEST(result.output.find("Process Process-crafted:") != std::string::npos, result.output);
  BOOST_TEST(result.output.find("module /nowhere/libmissing.so is not loaded in the child") != std::string::npos,
             result.output);
}

BOOST_AUTO_TEST_CASE(arguments_that_cannot_be_decoded_are_named) {
  using arguments = std::tuple<std::string>;
  auto* entry = &mproc::detail::call_entry_for<void (*)(std::string), arguments>;
  std::ostringstream call;
  {
    mproc::detail::output_archive out(call);
    out(mproc::detail::locate_code(reinterpret_cast<std::uintptr_t>(entry)), true,
        mproc::detail::locate_code(reinterpret_cast<std::uintptr_t>(&take_text)));
    out(std::uint64_t{1} << 40);  // a string length far beyond the bytes that follow: no 1 TiB allocation
  }
  mproc::detail::child_payload payload;
  payload.name = "Process-crafted";
  payload.call = call.str();
  const auto result = mproc::test::run_self_with_start_message(start_message(payload));
  BOOST_TEST(result.exit_code == 1);
  BOOST_TEST(result.output.find("mproc::serialization_error: cannot decode the target's arguments: corrupt "
                                "length 1099511627776") != std::string::npos,
             result.output);
}

BOOST_AUTO_TEST_CASE(target_outside_code_is_refused) {
  const auto result = mproc::test::run_self_with_start_message(payload_calling({"", 0x7fffffff}));
  BOOST_TEST(result.exit_code == 1);
  BOOST_TEST(result.output.find("is not code in the main program") != std::string::npos, result.output);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(program_exit)

BOOST_AUTO_TEST_CASE(non_daemons_are_joined_and_daemons_terminated_at_exit) {
  mproc::test::scratch_dir dir;
  const std::string done = dir.file("done");
  const auto begin = std::chrono::steady_clock::now();
  const auto result = mproc::test::run_command(std::string(MPROC_TEST_HELPER) + " exit-with-children " + done);
  const auto took = std::chrono::steady_clock::now() - begin;
  BOOST_TEST(result.exit_code == 0, result.output);
  BOOST_TEST(read_file(done) == "non-daemon finished");   // the program waited for it
  BOOST_TEST((took < 8s));                                 // and not for the 30 s daemon
  const auto lines = mproc::test::lines_of(result.output);
  BOOST_REQUIRE(!lines.empty());
  const int daemon = std::stoi(lines.back().substr(lines.back().find('=') + 1));
  BOOST_TEST(mproc::test::eventually([&] { return !mproc::test::process_running(daemon); }, 5.0));
}

BOOST_AUTO_TEST_CASE(spawn_before_init_is_a_clear_error_not_a_fork_bomb) {
  const auto result = mproc::test::run_command(std::string(MPROC_TEST_HELPER) + " spawn-without-init");
  BOOST_TEST(result.exit_code == 3, result.output);
  BOOST_TEST(result.output.find("mproc::init(argc, argv) must be called") != std::string::npos, result.output);
}

BOOST_AUTO_TEST_SUITE_END()
