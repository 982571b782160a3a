#include "mpi_wire.hpp"

#include <mproc/error.hpp>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

namespace mproc::detail::mpi {
namespace {

using clock = std::chrono::steady_clock;

// Rank 0's view of the ranks, shared by its alive thread and a pool's engine.
struct rank_table {
  explicit rank_table(int size) : heard(static_cast<std::size_t>(size)), lost(static_cast<std::size_t>(size)) {
    for (auto& at : heard) at.store(clock::now().time_since_epoch().count());
  }
  std::vector<std::atomic<clock::rep>> heard;
  std::vector<std::atomic<bool>> lost;
};

rank_table* table = nullptr;  // rank 0 only; made once, never freed (read until exit)
std::atomic<bool> stopping{false};
std::thread* alive_thread = nullptr;

// Rank 0's alive thread: one byte to every rank not lost, every alive_every,
// and the ranks' own alive messages taken (they only say when it last heard).
void say_alive_for_ever() {
  static const char byte = 0;
  while (!stopping.load()) {
    for (int rank = 1; rank < world_size(); ++rank) {
      if (is_lost(rank)) continue;
      MPI_Request request;  // one byte: eager, sent at once
      MPI_Isend(&byte, 1, MPI_BYTE, rank, alive_tag, MPI_COMM_WORLD, &request);
      MPI_Request_free(&request);
    }
    while (receive_any(MPI_ANY_SOURCE, alive_tag)) {
    }
    std::this_thread::sleep_for(alive_every);
  }
}

void stop_ranks_and_finalize() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (alive_thread != nullptr) {
    stopping.store(true);
    alive_thread->join();
  }
  if (world_rank() == 0) {
    end_rank_zero();
  } else {
    MPI_Finalize();  // a rank that never served: the program's own
  }
}

}  // namespace

void start_mpi(int* argc, char*** argv) {
  static std::once_flag once;
  std::call_once(once, [&] {
    int initialized = 0;
    MPI_Initialized(&initialized);
    int provided = 0;
    if (initialized) {
      MPI_Query_thread(&provided);
    } else {
      MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
    }
    if (provided < MPI_THREAD_MULTIPLE) {
      throw error("mproc::mpi::pool needs MPI with MPI_THREAD_MULTIPLE (MPI_Init_thread); this one gives less");
    }
    // Errors come back as codes: a dead rank must not end rank 0's program.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    std::atexit(stop_ranks_and_finalize);  // after a program's own MPI_Finalize, it does nothing
    if (world_rank() == 0) {
      table = new rank_table(world_size());
      alive_thread = new std::thread(say_alive_for_ever);
    }
  });
}

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int world_size() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

clock::time_point heard_from(int rank) {
  return clock::time_point(clock::duration(table->heard[static_cast<std::size_t>(rank)].load()));
}
void note_heard(int rank) {
  if (table != nullptr) table->heard[static_cast<std::size_t>(rank)].store(clock::now().time_since_epoch().count());
}
void mark_lost(int rank) { table->lost[static_cast<std::size_t>(rank)].store(true); }
bool is_lost(int rank) { return table != nullptr && table->lost[static_cast<std::size_t>(rank)].load(); }

bool receive_any(int source, int tag, received& into) {
  int flag = 0;
  MPI_Message message;
  MPI_Status status;
  MPI_Improbe(source, tag, MPI_COMM_WORLD, &flag, &message, &status);
  if (!flag) return false;
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  into.source = status.MPI_SOURCE;
  into.tag = status.MPI_TAG;
  into.bytes.resize(static_cast<std::size_t>(count));
  MPI_Mrecv(into.bytes.data(), count, MPI_BYTE, &message, MPI_STATUS_IGNORE);
  note_heard(into.source);
  return true;
}

std::optional<received> receive_any(int source, int tag) {
  received got;
  if (!receive_any(source, tag, got)) return std::nullopt;
  return got;
}

}  // namespace mproc::detail::mpi
