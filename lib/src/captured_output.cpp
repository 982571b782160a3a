// Captured output: a line_reader per pipe on the output thread delivers each
// line. One thread, so that a line is written whole (each with one fwrite,
// under the C library's lock of the stream) and a handler is never called
// twice at once.
#include "captured_output.hpp"

#include "output_thread.hpp"

#include <array>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>

namespace mproc::detail {
namespace {

constexpr std::size_t error_lines_kept = 20;
constexpr std::size_t error_line_kept_size = 1000;

}  // namespace

class captured_output {
 public:
  captured_output(process_info who, output_handler handler) : who_(std::move(who)), handler_(std::move(handler)) {}

  // The readers' handlers hold the object until the pipes end.
  static std::shared_ptr<captured_output> start(process_info who, output_handler handler, native_handle out,
                                                native_handle err) {
    auto self = std::make_shared<captured_output>(std::move(who), std::move(handler));
    self->readers_[0] = line_reader::start(out, max_output_line, [self](std::string_view line) {
      self->deliver(output_stream::out, line);
    });
    self->readers_[1] = line_reader::start(err, max_output_line, [self](std::string_view line) {
      self->deliver(output_stream::err, line);
    });
    return self;
  }

  void wait_delivered(std::chrono::nanoseconds at_most) {
    const auto deadline = std::chrono::steady_clock::now() + at_most;
    for (auto& reader : readers_) reader->wait_ended(std::max(deadline - std::chrono::steady_clock::now(), {}));
  }

  std::vector<std::string> last_error_lines(std::size_t count) const {
    std::lock_guard lock(mutex_);
    const std::size_t skip = error_tail_.size() > count ? error_tail_.size() - count : 0;
    return {error_tail_.begin() + static_cast<std::ptrdiff_t>(skip), error_tail_.end()};
  }

 private:
  void deliver(output_stream stream, std::string_view line) {
    if (stream == output_stream::err) keep_error_line(line);
    if (!handler_) {
      std::string text = "[" + who_.name + " " + std::to_string(who_.pid) + "] ";
      text.append(line);
      text += '\n';
      FILE* to = stream == output_stream::out ? stdout : stderr;
      std::fwrite(text.data(), 1, text.size(), to);
      std::fflush(to);
      return;
    }
    try {
      handler_(who_, stream, line);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mproc: the output handler failed on a line of %s (pid %d): %s\n", who_.name.c_str(),
                   who_.pid, e.what());
    } catch (...) {
      std::fprintf(stderr, "mproc: the output handler failed on a line of %s (pid %d)\n", who_.name.c_str(),
                   who_.pid);
    }
  }

  void keep_error_line(std::string_view line) {
    std::lock_guard lock(mutex_);
    if (error_tail_.size() == error_lines_kept) error_tail_.pop_front();
    error_tail_.emplace_back(line.substr(0, error_line_kept_size));
  }

  const process_info who_;
  const output_handler handler_;
  std::array<std::shared_ptr<line_reader>, 2> readers_;
  mutable std::mutex mutex_;
  std::deque<std::string> error_tail_;
};

std::shared_ptr<captured_output> read_child_output(child_output_pipes& pipes, process_info who,
                                                   const output_capture& capture) {
  pipes.close_write_ends();
  return captured_output::start(std::move(who), capture.handler(), std::exchange(pipes.out.read, no_handle),
                                std::exchange(pipes.err.read, no_handle));
}

void wait_delivered(captured_output& output, std::chrono::nanoseconds at_most) { output.wait_delivered(at_most); }

std::vector<std::string> last_error_lines(const captured_output& output, std::size_t count) {
  return output.last_error_lines(count);
}

}  // namespace mproc::detail
