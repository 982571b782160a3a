// Runs each concept app and checks the lines that show its concept.
#include "support/scratch.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>

using mproc::test::contains_line;

namespace {

mproc::test::command_result run_app(const std::string& name) {
  auto result = mproc::test::run_command(std::string(MPROC_APPS_DIR) + "/" + name);
  BOOST_TEST_MESSAGE(name << " printed:\n" << result.output);
  BOOST_TEST(result.exit_code == 0, name << " exited with " << result.exit_code << ":\n" << result.output);
  return result;
}

std::size_t count_lines_matching(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern);
  const auto lines = mproc::test::lines_of(text);
  return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(),
                                                [&](const std::string& line) { return std::regex_match(line, re); }));
}

// Where `line` stands in the output; lines().size() when absent.
std::size_t position_of(const std::string& text, const std::string& line) {
  const auto lines = mproc::test::lines_of(text);
  return static_cast<std::size_t>(std::find(lines.begin(), lines.end(), line) - lines.begin());
}

}  // namespace

BOOST_AUTO_TEST_CASE(spawning_processes_runs_my_func_in_order) {
  const auto out = run_app("spawning_processes").output;
  std::string expected;
  for (int i = 0; i < 6; ++i) {
    expected += "calling my_func from process n°: " + std::to_string(i) + "\n";
    for (int j = 0; j < i; ++j) expected += "output from my_func is: " + std::to_string(j) + "\n";
  }
  BOOST_TEST(out == expected);  // joined one by one: exactly this order
}

BOOST_AUTO_TEST_CASE(spawning_processes_namespace_runs_the_other_unit_target) {
  const auto out = run_app("spawning_processes_namespace").output;
  for (int i = 0; i < 6; ++i) BOOST_TEST(contains_line(out, "calling my_func from process n°: " + std::to_string(i)));
  BOOST_TEST(count_lines_matching(out, "output from my_func is: [0-9]") == 15u);  // 0+1+...+5
  BOOST_TEST(contains_line(out, "all 6 processes joined"));
}

BOOST_AUTO_TEST_CASE(naming_processes_prints_both_names) {
  const auto out = run_app("naming_processes").output;
  BOOST_TEST(contains_line(out, "Starting my_func process"));
  BOOST_TEST(contains_line(out, "Exiting my_func process"));
  BOOST_TEST(count_lines_matching(out, "Starting Process-[0-9]+") == 1u);
  BOOST_TEST(count_lines_matching(out, "Exiting Process-[0-9]+") == 1u);
}

BOOST_AUTO_TEST_CASE(run_background_processes_ends_the_daemon_with_the_program) {
  const auto out = run_app("run_background_processes").output;
  BOOST_TEST(contains_line(out, "Starting background_process"));
  BOOST_TEST(contains_line(out, "Exiting NO_background_process"));      // the non-daemon was joined
  BOOST_TEST(!contains_line(out, "Exiting background_process"));        // the daemon never finished
  BOOST_TEST(contains_line(out, "main program exits now; background_process is a daemon and still printing: true"));
  BOOST_TEST(count_lines_matching(out, "watcher: background_process \\(pid [0-9]+\\) is gone: it ended with the main program") == 1u);
  BOOST_TEST(count_lines_matching(out, "background_process ---> [0-9]+") < 20u);
}

BOOST_AUTO_TEST_CASE(run_background_processes_no_daemons_waits_for_both) {
  const auto out = run_app("run_background_processes_no_daemons").output;
  BOOST_TEST(contains_line(out, "Exiting background_process"));
  BOOST_TEST(contains_line(out, "Exiting NO_background_process"));
  BOOST_TEST(count_lines_matching(out, "background_process ---> [0-9]+") == 20u);
  BOOST_TEST(count_lines_matching(out, "NO_background_process ---> [0-9]") == 5u);
  BOOST_TEST(position_of(out, "main program returns; exit waits for its non-daemon children") <
             position_of(out, "Exiting background_process"));
}

BOOST_AUTO_TEST_CASE(killing_processes_shows_the_life_cycle_and_minus_15) {
  const auto out = run_app("killing_processes").output;
  BOOST_TEST(count_lines_matching(out, "Process before execution: <process name='Process-1' initial> false") == 1u);
  BOOST_TEST(count_lines_matching(out, "Process running: <process name='Process-1' pid=[0-9]+ started> true") == 1u);
  BOOST_TEST(count_lines_matching(out, "Process terminated: <process name='Process-1' pid=[0-9]+ .*") == 1u);
  BOOST_TEST(count_lines_matching(out, "Process joined: <process name='Process-1' pid=[0-9]+ stopped\\[signal 15\\]> false") == 1u);
  BOOST_TEST(contains_line(out, "Process exit code: -15"));
  BOOST_TEST(!contains_line(out, "Finished function"));
}

BOOST_AUTO_TEST_CASE(process_in_subclass_calls_run_ten_times) {
  const auto out = run_app("process_in_subclass").output;
  for (int n = 1; n <= 10; ++n) BOOST_TEST(contains_line(out, "called run method by my_process-" + std::to_string(n)));
}

BOOST_AUTO_TEST_CASE(start_methods_shows_each_method_and_its_parent) {
  const auto out = run_app("start_methods").output;
  const std::regex main_line("main program pid ([0-9]+)");
  std::smatch found;
  BOOST_REQUIRE(std::regex_search(out, found, main_line));
  const std::string parent = found[1];
  // Each method of this platform (spawn alone on Windows), and no other.
  const auto methods = mproc::all_start_methods();
  auto has = [&](mproc::start_method m) { return std::find(methods.begin(), methods.end(), m) != methods.end(); };
  for (const std::string method : {"spawn", "fork"}) {
    const auto expected = has(method == "spawn" ? mproc::start_method::spawn : mproc::start_method::fork) ? 1u : 0u;
    BOOST_TEST(count_lines_matching(out, method + ": child pid [0-9]+, parent pid " + parent) == expected, method);
    BOOST_TEST(contains_line(out, method + ": exit code 0") == (expected == 1u));
  }
  const auto forkserver = has(mproc::start_method::forkserver) ? 1u : 0u;
  BOOST_TEST(count_lines_matching(out, "forkserver: child pid [0-9]+, parent pid [0-9]+") == forkserver);
  BOOST_TEST(count_lines_matching(out, "forkserver: child pid [0-9]+, parent pid " + parent) == 0u);
  BOOST_TEST(contains_line(out, "forkserver: exit code 0") == (forkserver == 1u));
}

BOOST_AUTO_TEST_CASE(overview_tours_the_basics) {
  const auto out = run_app("overview").output;
  BOOST_TEST(count_lines_matching(out, "hello world from Process-1") == 2u);
  BOOST_TEST(contains_line(out, "exit code of exit_with_square(7): 49"));
  BOOST_TEST(contains_line(out, "exit code of a target that throws: 1"));
  BOOST_TEST(contains_line(out, "std::runtime_error: something went wrong"));
  BOOST_TEST(contains_line(out, "this is MainProcess"));
  BOOST_TEST(contains_line(out, "hello team from alpha"));
  BOOST_TEST(contains_line(out, "hello team from beta"));
}

BOOST_AUTO_TEST_CASE(communicating_with_pipe_squares_then_ends) {
  const auto out = run_app("communicating_with_pipe").output;
  std::string expected;
  for (int i = 0; i < 10; ++i) expected += std::to_string(i * i) + "\n";
  expected += "End\n";
  BOOST_TEST(out.starts_with(expected), out);  // in order, then end of file
  BOOST_TEST(contains_line(out, "child heard 'what is six times seven?' and answers 42"));
  BOOST_TEST(contains_line(out, "and as a number: 42"));
}

BOOST_AUTO_TEST_CASE(communicating_with_queue_pops_what_was_appended_and_delivers_each_item_once) {
  const auto out = run_app("communicating_with_queue").output;
  const std::regex appended("Process Producer : item ([0-9]+) appended to queue producer-1");
  const std::regex popped("Process Consumer : item ([0-9]+) popped from by consumer-2");
  std::vector<std::string> put;
  std::vector<std::string> got;
  for (const auto& line : mproc::test::lines_of(out)) {
    std::smatch match;
    if (std::regex_match(line, match, appended)) put.push_back(match[1]);
    if (std::regex_match(line, match, popped)) got.push_back(match[1]);
  }
  BOOST_TEST(put.size() == 10u, out);
  BOOST_TEST(got == put, boost::test_tools::per_element());  // all of them, in order
  BOOST_TEST(contains_line(out, "the queue is empty"));
  BOOST_TEST(count_lines_matching(out, "consumer-[1-3] took [0-9]+ items") == 3u);
  BOOST_TEST(contains_line(out, "2 producers, 3 consumers: 2000 items put, 2000 taken, every item exactly once: yes"));
}

BOOST_AUTO_TEST_CASE(process_pool_maps_squares_and_survives_a_lost_worker) {
  const auto out = run_app("process_pool").output;
  std::string squares = "Pool    : [";
  for (int i = 0; i < 100; ++i) squares += (i ? ", " : "") + std::to_string(i * i);
  BOOST_TEST(contains_line(out, squares + "]"), out);
  BOOST_TEST(contains_line(out, "starmap(pow, [(2, 8), (3, 4), (10, 3)]) : [256, 81, 1000]"));
  BOOST_TEST(contains_line(out, "apply(function_square, 12) : 144"));
  BOOST_TEST(contains_line(out, "apply_async callback got 169"));
  BOOST_TEST(out.find("] 100/100") != std::string::npos);
  BOOST_TEST(contains_line(out, "sum of the squares: 328350"));
  const std::regex bar(R"(progress \[#*\.*\] [0-9]+/60)");  // the one long task's bar, redrawn as it reports
  const auto redrawn = std::distance(std::sregex_iterator(out.begin(), out.end(), bar), std::sregex_iterator());
  BOOST_TEST(redrawn >= 10, out);
  BOOST_TEST(out.find("] 60/60\n") != std::string::npos);
  BOOST_TEST(contains_line(out, "long_crunch returned 60"));
  // The task's function by name, from the program's symbols.
  BOOST_TEST(count_lines_matching(out, "  task 5: lost: the pool worker PoolWorker-[0-9]+ \\(pid [0-9]+\\) running the "
                                       "task square_unless_five\\(int\\) was killed by SIGKILL") == 1u, out);
  BOOST_TEST(contains_line(out, "9 of 10 tasks completed; the pool still has 4 workers"));
}

BOOST_AUTO_TEST_CASE(process_barrier_lines_of_the_synchronised_pair_carry_the_same_moment) {
  const auto out = run_app("process_barrier").output;
  const std::regex line("process (p[1-4]) - test_with(out)?_barrier ----> [0-9-]+ ([0-9]+):([0-9]+):([0-9.]+)");
  std::map<std::string, double> at;  // seconds since midnight
  for (const auto& text : mproc::test::lines_of(out)) {
    std::smatch m;
    if (std::regex_match(text, m, line)) {
      at[m[1]] = std::stod(m[3]) * 3600 + std::stod(m[4]) * 60 + std::stod(m[5]);
    }
  }
  BOOST_REQUIRE_MESSAGE(at.size() == 4u, out);
  BOOST_TEST(std::abs(at["p1"] - at["p2"]) < 0.2);   // released together by the barrier
  BOOST_TEST(at["p2"] - at["p3"] > 1.0);             // p2 waited for p1's 1.5 s sleep
  BOOST_TEST(at["p2"] - at["p4"] > 1.0);
}

BOOST_AUTO_TEST_CASE(shared_state_fills_two_lists_and_counts_exactly) {
  const auto out = run_app("shared_state").output;
  BOOST_TEST(contains_line(out, "Process 1 (do_something process 1) output list length: 1000"));
  BOOST_TEST(count_lines_matching(out, "Process 2 \\(Process-[0-9]+\\) output list length: 1000") == 1u);
  BOOST_TEST(count_lines_matching(out, "Total execution time: [0-9]+\\.[0-9]+ seconds") == 1u);
  BOOST_TEST(contains_line(out, "counter after 4 processes x 25000 locked increments: 100000 (expected 100000)"));
  BOOST_TEST(count_lines_matching(out, "shared_list grown by 2 processes to 200000 doubles, [0-9.]+ MiB of shared "
                                       "memory \\(past the old fixed 1 MiB capacity\\)") == 1u);
  BOOST_TEST(contains_line(out, "counts[\"hits\"] after 4 processes x 10000 update_item: 40000 (expected 40000)"));
  BOOST_TEST(contains_line(out, "namespace: x = 21, answer = 42, set by a child process"));
}

BOOST_AUTO_TEST_CASE(async_tour_waits_for_everything_on_one_thread) {
  const auto out = run_app("async_tour").output;
  BOOST_TEST(contains_line(out, "children: first to end: quick (the other waits were cancelled; they run on)"));
  for (const char* name : {"slow", "quick", "middle"}) {
    BOOST_TEST(contains_line(out, std::string("children: ") + name + " ended with exit code 0"));
  }
  for (int i = 1; i <= 5; ++i) BOOST_TEST(contains_line(out, "queue: got " + std::to_string(i * i)));
  BOOST_TEST(position_of(out, "queue: got 1") < position_of(out, "queue: got 25"));
  BOOST_TEST(contains_line(out, "queue: shut down by its producer after 5 items"));
  BOOST_TEST(contains_line(out, "pool: results in completion order: 1 tenths 5 tenths 9 tenths"));
  BOOST_TEST(contains_line(out, "all three coroutines ran on the main thread: true"));
}

// The pool on MPI ranks (built where MPI is): run as the main job runs it,
// through its launcher (mpiexec -n 3).
BOOST_AUTO_TEST_CASE(distributed_pool_computes_on_the_serving_ranks) {
  const std::string launcher = std::string(MPROC_APPS_DIR) + "/distributed_pool.launch";
  if (!std::filesystem::exists(launcher)) return mproc::test::skip_case("built without MPI: no distributed_pool");
  const auto result = mproc::test::run_command(launcher + " " + MPROC_APPS_DIR + "/distributed_pool");
  const std::string& out = result.output;
  BOOST_TEST(result.exit_code == 0, out);
  BOOST_TEST(count_lines_matching(out, "rank 0 on .+ runs the program; 2 ranks serve its tasks") == 1u, out);
  for (int i = 0; i < 6; ++i) {
    const std::string line = "  " + std::to_string(i) + "\\^2 = " + std::to_string(i * i) + " \\(rank [12] on .+\\)";
    BOOST_TEST(count_lines_matching(out, line) == 1u, line);
  }
  BOOST_TEST(count_lines_matching(out, ".*\\(rank 1 on .+\\)") >= 1u, out);
  BOOST_TEST(count_lines_matching(out, ".*\\(rank 2 on .+\\)") >= 1u, out);
  BOOST_TEST(contains_line(out, "starmap(pow, [(2, 8), (3, 4), (10, 3)]) : [256, 81, 1000]"), out);
  BOOST_TEST(contains_line(out, "apply_async callback got 169"), out);
  BOOST_TEST(contains_line(out, "progress 20/20"), out);
  BOOST_TEST(contains_line(out, "imap_unordered(square, range(20)): sum 2470"), out);
}
