// The parent's output thread: one Asio context, on one thread made when first
// needed, that reads what children send up (captured output, log records).
#pragma once

#include "output_pipes.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/readable_pipe.hpp>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
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

/// How long a parent waits for a child's last lines (or log records) once the
/// child has ended: what the child started may hold its pipes open longer.
inline constexpr std::chrono::seconds output_grace{2};

/// At exit: waits at most `at_most` until every pipe being read has ended.
void wait_for_all_output(std::chrono::nanoseconds at_most);

/// In a forked child: the parent's output thread is not there; a capture made
/// here starts a new one (the copy is left untouched: it shares the parent's
/// Asio reactor).
void forget_output_thread_after_fork() noexcept;

/// Reads one pipe on the output thread and cuts what comes into lines for
/// `on_line`: without their "\n" or "\r\n", a line longer than `max_line` in
/// pieces, a last line without its end too; then calls `on_end`, once the pipe
/// has ended (every writer's copy closed), and drops both handlers.
class line_reader : public std::enable_shared_from_this<line_reader> {
 public:
  using line_handler = std::function<void(std::string_view line)>;
  /// Takes `read_end`.
  static std::shared_ptr<line_reader> start(native_handle read_end, std::size_t max_line, line_handler on_line,
                                            std::function<void()> on_end = {});

  line_reader(output_thread& home, native_handle read_end, std::size_t max_line, line_handler on_line,
              std::function<void()> on_end);
  line_reader(const line_reader&) = delete;
  line_reader& operator=(const line_reader&) = delete;

  /// Waits at most `at_most` for the pipe's end; at once on the output thread.
  void wait_ended(std::chrono::nanoseconds at_most);

 private:
  void read_more();
  void take(std::size_t size);
  void end();

  output_thread& home_;
  boost::asio::readable_pipe pipe_;
  const std::size_t max_line_;
  line_handler on_line_;
  std::function<void()> on_end_;
  std::string partial_;
  std::array<char, 16 * 1024> buffer_{};
  std::mutex mutex_;
  std::condition_variable ended_cv_;
  bool ended_ = false;
};

}  // namespace mproc::detail
