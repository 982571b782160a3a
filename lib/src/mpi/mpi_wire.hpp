// What rank 0 and the serving ranks of an mproc::mpi::pool say to each other,
// and MPI's set-up. Messages are bytes: a task message goes out as the local
// pool's (pool_wire.hpp), its result comes back as a worker's.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

namespace mproc::detail::mpi {

enum message_tag : int {
  task_tag = 1,    // rank 0 -> rank: a task message
  result_tag = 2,  // rank -> rank 0: its result message
  alive_tag = 3,   // either way, one byte: still here
  stop_tag = 4,     // rank 0 -> rank: the program has ended
  hello_tag = 5,    // rank -> rank 0 at start: "pid host"
  goodbye_tag = 6,  // rank -> rank 0, after stop: still here to finalise
  end_tag = 7,      // rank 0 -> rank, one byte: 1 finalise together, 0 end without
};

/// How often each side says it is alive, busy or not (from a thread of its own).
constexpr std::chrono::milliseconds alive_every{200};

/// How long a polling loop waits before it looks again: not at all (a yield)
/// for a while after the last message, so that a conversation goes at MPI's
/// speed; then sleeps that double up to `longest`, so that an idle rank takes
/// next to no CPU (MPI's own waits spin a core).
class idle_backoff {
 public:
  explicit idle_backoff(std::chrono::microseconds longest) : longest_(longest) {}
  void active() {
    last_ = std::chrono::steady_clock::now();
    pause_ = std::chrono::microseconds(20);
  }
  /// Zero: yield and look again.
  std::chrono::microseconds next() {
    if (std::chrono::steady_clock::now() - last_ < hot_for) return std::chrono::microseconds(0);
    const auto now = pause_;
    pause_ = std::min(pause_ * 2, longest_);
    return now;
  }

 private:
  static constexpr std::chrono::milliseconds hot_for{2};
  std::chrono::microseconds longest_;
  std::chrono::microseconds pause_{20};
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

/// MPI_Init_thread with MPI_THREAD_MULTIPLE, once. On rank 0 a thread then
/// says it is alive to every rank for the program's whole life, between pools
/// too, and takes the ranks' alive messages (see heard_from); at rank 0's exit
/// the serving ranks are told to stop and MPI is finalised. Errors:
/// mproc::error if the program initialised MPI without thread support.
/// A program that runs alone (not under mpiexec, or under mpiexec -n 1) first
/// starts `ranks_to_spawn` more of itself with MPI_Comm_spawn; in those, the
/// job is their parent and them. Errors: mproc::error if the spawn fails.
void start_mpi(int* argc, char*** argv, int ranks_to_spawn);

/// The job's communicator: MPI_COMM_WORLD under mpiexec, or the spawning
/// program and its spawned ranks merged (the program is rank 0).
MPI_Comm job_comm();
/// Spawned jobs only: frees the job and disconnects from the other side
/// (collective: before MPI_Finalize, when every rank is there).
void leave_spawned_job();

int job_rank();
int job_size();

/// When rank 0 last heard from `rank` (steady clock), by whatever message.
std::chrono::steady_clock::time_point heard_from(int rank);
void note_heard(int rank);
/// A rank taken for dead: rank 0 sends it nothing more.
void mark_lost(int rank);
bool is_lost(int rank);

/// A message probed for (MPI_Improbe: matched, so that two threads probing
/// never take each other's message): its bytes, or nothing if none is there.
struct received {
  int source = 0;
  int tag = 0;
  std::string bytes;
};
std::optional<received> receive_any(int source, int tag);
/// The same into `into`, whose memory is kept from one message to the next
/// (a rank's chunks of megabytes would each cost a page fault per 4 KiB).
bool receive_any(int source, int tag, received& into);

/// How the job ends (mpi_ending.cpp). Rank 0, at its exit: stop to every
/// rank, a goodbye from each, then all finalise together, or, when a rank is
/// gone, none does (a fence with a dead rank can wait for ever).
void end_rank_zero();
/// A serving rank after stop: its goodbye, rank 0's verdict, then the end.
[[noreturn]] void end_serving_rank();
/// A serving rank whose rank 0 fell silent: nothing left to serve, nobody to
/// say goodbye to. It ends (exit code 70) without MPI_Finalize.
[[noreturn]] void end_orphaned_rank();

/// Serves tasks from rank 0 until it says stop (or is not heard from for
/// `silence_limit`), then ends this process (mpi_rank.cpp).
[[noreturn]] void serve_tasks(std::chrono::milliseconds silence_limit);

}  // namespace mproc::detail::mpi
