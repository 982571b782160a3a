// How an mproc::mpi job ends. MPI_Finalize begins with a fence of every rank;
// with Open MPI 4.1.4 (--enable-recovery) a fence after a rank died waits for
// that rank for ever when the runtime's notice of the death comes too late
// (seen under load: both rank 0 and a serving rank stuck in ompi_mpi_finalize).
// So rank 0 first asks every rank for a goodbye; only when every rank of the
// job answered do all finalise together, and then with a deadline. Otherwise
// each ends without MPI_Finalize and removes what MPI_Finalize would have.
#include "mpi_wire.hpp"

#include "../launch.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace mproc::detail::mpi {
namespace {

constexpr std::chrono::seconds goodbye_limit{3};  // for every rank's goodbye, at rank 0's exit
constexpr std::chrono::seconds finalize_limit{10};

// Open MPI's shared-memory transport (btl/vader) keeps a file per process,
// removed by MPI_Finalize; a process ending without it removes its own. The
// name is Open MPI 4.1's (btl_vader_component.c): no API gives it.
void remove_shared_memory_file() {
  const char* job = std::getenv("OMPI_MCA_ess_base_jobid");
  const char* local_rank = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  if (job == nullptr || local_rank == nullptr) return;
  const char* directory = std::getenv("OMPI_MCA_btl_vader_backing_directory");
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  char name[512];
  std::snprintf(name, sizeof name, "%s/vader_segment.%s.%u.%lx.%s", directory != nullptr ? directory : "/dev/shm", host,
                static_cast<unsigned>(::getuid()), std::strtoul(job, nullptr, 10), local_rank);
  ::unlink(name);
}

void end_without_finalize() {
  flush_standard_streams();
  remove_shared_memory_file();
}

// MPI_Finalize, or the process ends with `status` after finalize_limit.
void finalize_with_deadline(int status) {
  std::thread([status] {
    std::this_thread::sleep_for(finalize_limit);
    std::fputs("mproc::mpi: MPI_Finalize did not return within 10 s (a rank of the job is gone); ending without it\n",
               stderr);
    end_without_finalize();
    std::_Exit(status);
  }).detach();
  leave_spawned_job();
  MPI_Finalize();
}

void send_byte(int rank, int tag, char byte) {
  MPI_Request request;  // one byte: eager, sent at once
  MPI_Isend(&byte, 1, MPI_BYTE, rank, tag, job_comm(), &request);
  MPI_Request_free(&request);
}

}  // namespace

void end_rank_zero() {
  std::vector<int> waiting;
  for (int rank = 1; rank < job_size(); ++rank) {
    if (!is_lost(rank)) {
      send_byte(rank, stop_tag, 0);
      waiting.push_back(rank);
    }
  }
  const bool none_lost_before = static_cast<int>(waiting.size()) == job_size() - 1;
  std::vector<int> answered;
  const auto deadline = std::chrono::steady_clock::now() + goodbye_limit;
  while (answered.size() < waiting.size() && std::chrono::steady_clock::now() < deadline) {
    if (const auto goodbye = receive_any(MPI_ANY_SOURCE, goodbye_tag)) {
      answered.push_back(goodbye->source);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  const bool everyone = none_lost_before && answered.size() == waiting.size();
  for (const int rank : answered) send_byte(rank, end_tag, everyone ? 1 : 0);
  if (everyone) {
    finalize_with_deadline(EXIT_FAILURE);
  } else {
    end_without_finalize();
  }
}

void end_orphaned_rank() {
  std::fputs("mproc::mpi: rank 0 is gone (not heard from for the silence limit); this rank ends\n", stderr);
  end_without_finalize();
  std::_Exit(70);
}

void end_serving_rank() {
  const char byte = 0;
  MPI_Send(&byte, 1, MPI_BYTE, 0, goodbye_tag, job_comm());
  const auto deadline = std::chrono::steady_clock::now() + 2 * goodbye_limit;
  bool finalize = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto verdict = receive_any(0, end_tag)) {
      finalize = !verdict->bytes.empty() && verdict->bytes[0] == 1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  flush_standard_streams();
  if (finalize) {
    finalize_with_deadline(0);
  } else {
    end_without_finalize();
  }
  std::_Exit(0);
}

}  // namespace mproc::detail::mpi
