// Captured output: the output thread reads every captured child's pipes, cuts
// lines and delivers them. One thread, so that a line is written whole (each
// with one fwrite, under the C library's lock of the stream) and a handler is
// never called twice at once.
#include "captured_output.hpp"

#include "output_thread.hpp"

#include <boost/asio/post.hpp>

#include <array>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>

namespace mproc::detail {
namespace {

constexpr std::size_t error_lines_kept = 20;
constexpr std::size_t error_line_kept_size = 1000;

}  // namespace

class captured_output : public std::enable_shared_from_this<captured_output> {
 public:
  captured_output(output_thread& home, process_info who, output_handler handler)
      : home_(home), who_(std::move(who)), handler_(std::move(handler)),
        readers_{reader{boost::asio::readable_pipe(home.context), output_stream::out},
                 reader{boost::asio::readable_pipe(home.context), output_stream::err}} {
    home_.opened();
  }

  void start(native_handle out, native_handle err) {
    readers_[0].pipe.assign(as_pipe_handle(out));
    readers_[1].pipe.assign(as_pipe_handle(err));
    boost::asio::post(home_.context, [self = shared_from_this()] {
      self->read_more(0);
      self->read_more(1);
    });
  }

  void wait_delivered(std::chrono::nanoseconds at_most) {
    if (home_.is_current()) return;
    std::unique_lock lock(mutex_);
    delivered_cv_.wait_for(lock, at_most, [&] { return delivered_; });
  }

  std::vector<std::string> last_error_lines(std::size_t count) const {
    std::lock_guard lock(mutex_);
    const std::size_t skip = error_tail_.size() > count ? error_tail_.size() - count : 0;
    return {error_tail_.begin() + static_cast<std::ptrdiff_t>(skip), error_tail_.end()};
  }

 private:
  struct reader {
    boost::asio::readable_pipe pipe;
    output_stream stream;
    std::string partial{};
    std::array<char, 16 * 1024> buffer{};
    bool ended = false;
  };

  void read_more(int which) {
    auto& r = readers_[which];
    r.pipe.async_read_some(boost::asio::buffer(r.buffer),
                           [self = shared_from_this(), which](boost::system::error_code ec, std::size_t size) {
                             self->take(self->readers_[which], size);
                             if (ec) {
                               self->end(self->readers_[which]);  // eof, or the pipe broke: nothing more comes
                             } else {
                               self->read_more(which);
                             }
                           });
  }

  void take(reader& r, std::size_t size) {
    r.partial.append(r.buffer.data(), size);
    std::size_t begin = 0;
    for (std::size_t newline; (newline = r.partial.find('\n', begin)) != std::string::npos; begin = newline + 1) {
      std::string_view line(r.partial.data() + begin, newline - begin);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      deliver(r.stream, line);
    }
    r.partial.erase(0, begin);
    while (r.partial.size() >= max_output_line) {
      deliver(r.stream, std::string_view(r.partial).substr(0, max_output_line));
      r.partial.erase(0, max_output_line);
    }
  }

  void end(reader& r) {
    if (!r.partial.empty()) deliver(r.stream, r.partial);  // a last line without its line end
    r.partial.clear();
    r.partial.shrink_to_fit();
    r.ended = true;
    boost::system::error_code ignored;
    r.pipe.close(ignored);
    if (!readers_[0].ended || !readers_[1].ended) return;
    {
      std::lock_guard lock(mutex_);
      delivered_ = true;
    }
    delivered_cv_.notify_all();
    home_.closed();
  }

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

  output_thread& home_;
  const process_info who_;
  const output_handler handler_;
  std::array<reader, 2> readers_;
  mutable std::mutex mutex_;
  std::condition_variable delivered_cv_;
  bool delivered_ = false;
  std::deque<std::string> error_tail_;
};

std::shared_ptr<captured_output> read_child_output(child_output_pipes& pipes, process_info who,
                                                   const output_capture& capture) {
  pipes.close_write_ends();
  auto output = std::make_shared<captured_output>(output_thread_of_process(), std::move(who), capture.handler());
  output->start(std::exchange(pipes.out.read, no_handle), std::exchange(pipes.err.read, no_handle));
  return output;
}

void wait_delivered(captured_output& output, std::chrono::nanoseconds at_most) { output.wait_delivered(at_most); }

std::vector<std::string> last_error_lines(const captured_output& output, std::size_t count) {
  return output.last_error_lines(count);
}

}  // namespace mproc::detail
