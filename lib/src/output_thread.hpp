// The parent's output thread: one Asio context, on one thread made when first
// needed, that reads what children send up (captured output, log records).
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>

namespace mproc::detail {

class output_thread {
 public:
  output_thread() : thread_([this] { context.run(); }) {}
  // Never destroyed: children's lines may still come while the program exits
  // (the exit handler waits for them, see wait_for_all_output).
  ~output_thread() = delete;

  bool is_current() const noexcept { return std::this_thread::get_id() == thread_.get_id(); }

  /// Counts the readers that have not reached their end, for wait_all_closed().
  void opened();
  void closed();
  void wait_all_closed(std::chrono::nanoseconds at_most);

  boost::asio::io_context context;

 private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{context.get_executor()};
  std::mutex mutex_;
  std::condition_variable all_closed_;
  std::size_t open_ = 0;
  std::thread thread_;
};

/// This process's output thread, made on first use.
output_thread& output_thread_of_process();

/// The output thread if this process has made one, else nullptr.
output_thread* existing_output_thread() noexcept;

}  // namespace mproc::detail
