#include "mpi_wire.hpp"

#include <mproc/error.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

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
    for (int rank = 1; rank < job_size(); ++rank) {
      if (is_lost(rank)) continue;
      MPI_Request request;  // one byte: eager, sent at once
      MPI_Isend(&byte, 1, MPI_BYTE, rank, alive_tag, job_comm(), &request);
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
  if (job_rank() == 0) {
    end_rank_zero();
  } else {
    MPI_Finalize();  // a rank that never served: the program's own
  }
}

}  // namespace

namespace {

MPI_Comm job = MPI_COMM_WORLD;     // rank 0 and the serving ranks
MPI_Comm spawn_link = MPI_COMM_NULL;  // the intercommunicator to the spawned ranks (or the parent), if any

std::string program_file() {
  char path[4096];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) throw error("mproc::mpi::pool cannot find its own program (/proc/self/exe) to start ranks from");
  return std::string(path, static_cast<std::size_t>(length));
}

// The program's arguments after its name, as given (MPI_Init may have taken
// some out of argv): a spawned rank runs main() with the same ones.
std::vector<std::string> program_arguments() {
  std::ifstream file("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> arguments;
  for (std::string argument; std::getline(file, argument, '\0');) arguments.push_back(argument);
  if (!arguments.empty()) arguments.erase(arguments.begin());
  return arguments;
}

// The program runs alone (not under mpiexec): it starts `count` more of
// itself with MPI_Comm_spawn, and they and it make the job (it is rank 0).
void spawn_ranks(int count) {
  const std::string program = program_file();
  std::vector<std::string> arguments = program_arguments();
  std::vector<char*> argv;
  for (auto& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  MPI_Info info;
  MPI_Info_create(&info);
  // A singleton's universe is this machine's cores, one of them its own:
  // asking for N ranks means N ranks, however many cores there are.
  MPI_Info_set(info, "map_by", "slot:OVERSUBSCRIBE");
  std::vector<int> codes(static_cast<std::size_t>(count));
  MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
  const int status = MPI_Comm_spawn(program.c_str(), argv.data(), count, info, 0, MPI_COMM_SELF, &spawn_link,
                                    codes.data());
  MPI_Info_free(&info);
  if (status != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(status, text, &length);
    throw error("mproc::mpi::pool could not start " + std::to_string(count) + " ranks with MPI_Comm_spawn (" +
                std::string(text, static_cast<std::size_t>(length)) +
                "); run the program under mpiexec -n N instead");
  }
  MPI_Intercomm_merge(spawn_link, 0, &job);  // the parent first: rank 0
}

}  // namespace

void start_mpi(int* argc, char*** argv, int ranks_to_spawn) {
  static std::once_flag once;
  std::call_once(once, [&] {
    int initialized = 0;
    MPI_Initialized(&initialized);
    int provided = 0;
    if (initialized) {
      MPI_Query_thread(&provided);
    } else {
      if (std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr) {
        // Run alone, Open MPI starts its runtime for this process: let the job
        // outlive a spawned rank, as mpiexec --enable-recovery does (else a
        // dead rank ends the program too). The user's own setting wins.
        ::setenv("OMPI_MCA_orte_enable_recovery", "1", 0);
      }
      MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
    }
    if (provided < MPI_THREAD_MULTIPLE) {
      throw error("mproc::mpi::pool needs MPI with MPI_THREAD_MULTIPLE (MPI_Init_thread); this one gives less");
    }
    MPI_Comm parent = MPI_COMM_NULL;
    MPI_Comm_get_parent(&parent);
    int world = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    if (parent != MPI_COMM_NULL) {
      spawn_link = parent;
      MPI_Intercomm_merge(parent, 1, &job);
    } else if (world == 1) {
      spawn_ranks(ranks_to_spawn);
    }
    // Errors come back as codes: a dead rank must not end rank 0's program.
    MPI_Comm_set_errhandler(job, MPI_ERRORS_RETURN);
    std::atexit(stop_ranks_and_finalize);  // after a program's own MPI_Finalize, it does nothing
    if (job_rank() == 0) {
      table = new rank_table(job_size());
      alive_thread = new std::thread(say_alive_for_ever);
    }
  });
}

MPI_Comm job_comm() { return job; }

void leave_spawned_job() {
  if (spawn_link == MPI_COMM_NULL) return;
  MPI_Comm_free(&job);
  job = MPI_COMM_WORLD;
  MPI_Comm_disconnect(&spawn_link);
}

int job_rank() {
  int rank = 0;
  MPI_Comm_rank(job, &rank);
  return rank;
}

int job_size() {
  int size = 0;
  MPI_Comm_size(job, &size);
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
  MPI_Improbe(source, tag, job, &flag, &message, &status);
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
