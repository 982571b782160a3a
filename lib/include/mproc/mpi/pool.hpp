// mproc::pool on MPI ranks, for work that outgrows one machine (mpi4py.futures'
// MPIPoolExecutor). Run the program under mpiexec; rank 0 runs it, the other
// ranks serve its tasks:
//
//   int main(int argc, char** argv) {
//     mproc::mpi::pool workers(argc, argv);   // ranks 1..N-1 serve here, and end here
//     auto squares = workers.map(square, inputs);
//   }
//
//   mpiexec -n 4 --enable-recovery ./program   (Open MPI)
//
// Run alone (./program, not under mpiexec), the program starts its serving
// ranks itself with MPI_Comm_spawn (pool_options::spawn_ranks; as
// MPIPoolExecutor does): the same binary, with the same arguments, whose
// main() also reaches the pool's constructor and serves there.
//
// The same calls as mproc::pool (map, starmap, apply, apply_async, imap, ...):
// code written for it compiles against this by changing the type. Tasks are
// found by module-relative address, so every rank runs the same binary.
//
// A rank that dies (or whose machine does) is noticed by its silence: its
// tasks fail with worker_lost_error naming the rank and host (or run again
// elsewhere with retry_lost_tasks) and the others go on, where the MPI lets
// the job outlive a rank (Open MPI's mpiexec --enable-recovery). Otherwise the
// MPI ends the whole job at once.
#pragma once

#include <mproc/pool.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>

namespace mproc::mpi {

struct pool_options {
  /// A task (a chunk of a map) running longer fails with timeout_error. The
  /// rank is not replaced (MPI cannot start a new one): it is left out of the
  /// pool until the task returns. Unset: no limit.
  std::optional<std::chrono::nanoseconds> task_timeout{};
  /// A task whose rank was lost runs once more on another rank first.
  bool retry_lost_tasks = false;
  /// As pool_options::progress.
  std::function<void(std::size_t done, std::size_t total)> progress{};
  /// A rank not heard from for this long is taken for dead (ranks say they are
  /// alive every 200 ms, from a thread of their own, even while busy).
  std::chrono::milliseconds silence_limit{3000};
  /// Run alone (a world of one rank): how many serving ranks to start with
  /// MPI_Comm_spawn, with the first pool. 0: one per CPU. Under mpiexec the
  /// job's ranks serve, and this is not used.
  int spawn_ranks = 0;
};

/// mproc::pool on the ranks of MPI_COMM_WORLD, or of the job the program
/// spawned. Ranks other than 0 serve tasks in the constructor and end the
/// process there when rank 0's program ends.
class pool : public mproc::pool {
 public:
  /// Initialises MPI (with threads) if the program has not. Errors:
  /// mproc::error if MPI lacks MPI_THREAD_MULTIPLE or ranks cannot be spawned.
  explicit pool(int& argc, char**& argv, pool_options options = {});
  explicit pool(pool_options options = {});

  /// This process's rank (0: the program's), and the ranks.
  static int rank();
  static int size();
};

}  // namespace mproc::mpi
