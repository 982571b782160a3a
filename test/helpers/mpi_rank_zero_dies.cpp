// Rank 0 of an mproc::mpi::pool SIGKILLed in the middle of a map, for
// mpi_ending_test: it prints its job's id, hands the ranks slow tasks and
// kills itself. The serving ranks must then end by themselves.
#include <mproc/mpi/pool.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

int slow(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  mproc::mpi::pool workers(argc, argv, mproc::mpi::pool_options{.silence_limit = std::chrono::milliseconds(1000),
                                                                 .spawn_ranks = 2});
  std::vector<mproc::async_result<int>> running;
  for (int i = 0; i < 10; ++i) running.push_back(workers.apply_async(slow, 300));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const char* job = std::getenv("OMPI_MCA_ess_base_jobid");
  std::printf("rank 0 of job %s dies with %zu serving ranks busy\n", job != nullptr ? job : "?", workers.processes());
  std::fflush(stdout);
  std::raise(SIGKILL);
}
