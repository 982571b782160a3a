#include "mpi_wire.hpp"

#include <mproc/error.hpp>

#include <cstdlib>
#include <mutex>

namespace mproc::detail::mpi {
namespace {

void stop_ranks_and_finalize() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (world_rank() == 0) {
    const char byte = 0;
    for (int rank = 1; rank < world_size(); ++rank) {
      MPI_Request request;  // one byte: eager; a dead rank's send is simply dropped
      MPI_Isend(&byte, 1, MPI_BYTE, rank, stop_tag, MPI_COMM_WORLD, &request);
      MPI_Request_free(&request);
    }
  }
  MPI_Finalize();
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
    std::atexit(stop_ranks_and_finalize);  // after a program's own MPI_Finalize, it does nothing
    if (provided < MPI_THREAD_MULTIPLE) {
      throw error("mproc::mpi::pool needs MPI with MPI_THREAD_MULTIPLE (MPI_Init_thread); this one gives less");
    }
    // Errors come back as codes: a dead rank must not end rank 0's program.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
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

std::string receive_bytes(const MPI_Status& status) {
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  std::string bytes(static_cast<std::size_t>(count), '\0');
  MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  return bytes;
}

}  // namespace mproc::detail::mpi
