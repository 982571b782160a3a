// Start+join latency of a trivial target per start method, beside the floors of
// the same work done raw (fork+waitpid, posix_spawn of this binary) and, when
// python3 is present, Python's multiprocessing, all in one run.
//
//   bench_process [--json] [--rounds N]
#include <mproc/mproc.hpp>

#include "report.hpp"

#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

using clock_type = std::chrono::steady_clock;

void trivial() {}

void raw_fork() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

void raw_spawn() {
  char* argv[] = {const_cast<char*>("/proc/self/exe"), const_cast<char*>("--exit-now"), nullptr};
  pid_t pid = 0;
  if (::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, environ) != 0) return;
  int status = 0;
  ::waitpid(pid, &status, 0);
}

void mproc_start_join(mproc::start_method method) {
  mproc::process p(mproc::process_options{.method = method}, trivial);
  p.start();
  p.join();
}

}  // namespace

int main(int argc, char** argv) {
  // The raw-spawn floor: this binary, started and ended before anything else.
  if (argc > 1 && std::strcmp(argv[1], "--exit-now") == 0) return 0;
  mproc::init(argc, argv);
  const auto [json, rounds] = bench::parse_options(argc, argv, 200);

  std::vector<bench::subject> subjects{
      {"raw_fork_start_join_us", "fork + _exit + waitpid", raw_fork, {}},
      {"raw_spawn_start_join_us", "posix_spawn of this binary, exits in main", raw_spawn, {}}};
  for (auto method : mproc::all_start_methods()) {
    subjects.push_back({std::string(mproc::to_string(method)) + "_start_join_us", "mproc::process start + join",
                        [method] { mproc_start_join(method); }, {}});
  }
  bench::measure_interleaved(subjects, rounds);
  bench::report report;
  for (auto& s : subjects) report.add(s.name, bench::median(s.samples_us), "us", s.note);

  const std::string python = bench::capture("command -v python3 >/dev/null && python3 " MPROC_BENCH_PYTHON_DIR
                                            "/bench_process.py " + std::to_string(std::max(10, rounds / 10)));
  if (python.empty() && !json) std::cout << "python3 not found: Python's figures are left out\n";
  for (const auto& [name, value] : bench::parse_flat_json(python)) {
    report.add(name, value, "us", "multiprocessing.Process start + join");
  }

  report.add_ratio("spawn_vs_raw_spawn", "spawn_start_join_us", "raw_spawn_start_join_us", "goal <= 1.5");
  report.add_ratio("fork_vs_raw_fork", "fork_start_join_us", "raw_fork_start_join_us", "goal <= 1.3");
  report.add_ratio("python_spawn_vs_spawn", "python_spawn_start_join_us", "spawn_start_join_us", "goal >= 20");
  report.add_ratio("python_fork_vs_fork", "python_fork_start_join_us", "fork_start_join_us", "goal >= 10");
  report.add_ratio("python_forkserver_vs_forkserver", "python_forkserver_start_join_us",
                   "forkserver_start_join_us");
  report.print(json);
}
