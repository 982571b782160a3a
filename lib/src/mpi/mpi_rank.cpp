// A serving rank of an mproc::mpi::pool: runs the task messages rank 0 sends,
// as a local worker runs them, and says it is alive from a thread of its own
// (so that a long task does not make it look dead).
#include "mpi_wire.hpp"

#include "../launch.hpp"
#include "../pool_wire.hpp"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#include <boost/asio/ip/host_name.hpp>

namespace mproc::detail::mpi {
namespace {

void say_hello() {
  std::string hello = std::to_string(current_pid()) + " " + boost::asio::ip::host_name();
  MPI_Send(hello.data(), static_cast<int>(hello.size()), MPI_BYTE, 0, hello_tag, job_comm());
}

}  // namespace

void serve_tasks(std::chrono::milliseconds silence_limit) {
  say_hello();
  std::atomic<bool> done{false};
  std::thread alive([&] {
    const char byte = 0;
    while (!done.load()) {
      MPI_Send(&byte, 1, MPI_BYTE, 0, alive_tag, job_comm());  // one byte: eager, it does not wait
      std::this_thread::sleep_for(alive_every);
    }
  });
  auto heard = std::chrono::steady_clock::now();
  idle_backoff backoff(std::chrono::microseconds(2000));
  received message;    // both kept from one task to the next, with their memory
  std::string result;
  for (;;) {
    if (!receive_any(0, MPI_ANY_TAG, message)) {
      if (std::chrono::steady_clock::now() - heard > silence_limit) end_orphaned_rank();  // only an MPI that outlives a rank gets here
      const auto pause = backoff.next();
      if (pause.count() == 0) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(pause);
      }
      continue;
    }
    backoff.active();
    heard = std::chrono::steady_clock::now();
    if (message.tag == stop_tag) break;
    if (message.tag != task_tag) continue;
    run_task_message(message.bytes, static_cast<std::uint32_t>(job_rank()), result);
    MPI_Send(result.data(), static_cast<int>(result.size()), MPI_BYTE, 0, result_tag, job_comm());
  }
  done.store(true);
  alive.join();
  end_serving_rank();
}

}  // namespace mproc::detail::mpi
