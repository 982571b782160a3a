#include "output_thread.hpp"

#include <boost/asio/post.hpp>

#include <atomic>
#include <new>

namespace mproc::detail {
namespace {

std::atomic<output_thread*> the_thread{nullptr};
std::mutex& thread_creation() {
  static std::mutex* mutex = new std::mutex();  // never destroyed: the output thread outlives statics
  return *mutex;
}
std::mutex* creation_after_fork = nullptr;

}  // namespace

void output_thread::opened() {
  std::lock_guard lock(mutex_);
  ++open_;
}

void output_thread::closed() {
  std::lock_guard lock(mutex_);
  if (--open_ == 0) all_closed_.notify_all();
}

void output_thread::wait_all_closed(std::chrono::nanoseconds at_most) {
  std::unique_lock lock(mutex_);
  all_closed_.wait_for(lock, at_most, [&] { return open_ == 0; });
}

output_thread& output_thread_of_process() {
  if (auto* existing = the_thread.load(std::memory_order_acquire)) return *existing;
  std::lock_guard lock(creation_after_fork ? *creation_after_fork : thread_creation());
  if (auto* existing = the_thread.load(std::memory_order_acquire)) return *existing;
  auto* made = new output_thread();
  the_thread.store(made, std::memory_order_release);
  return *made;
}

output_thread* existing_output_thread() noexcept { return the_thread.load(std::memory_order_acquire); }

std::shared_ptr<line_reader> line_reader::start(native_handle read_end, std::size_t max_line, line_handler on_line,
                                                std::function<void()> on_end) {
  auto reader = std::make_shared<line_reader>(output_thread_of_process(), read_end, max_line, std::move(on_line),
                                              std::move(on_end));
  boost::asio::post(reader->home_.context, [reader] { reader->read_more(); });
  return reader;
}

line_reader::line_reader(output_thread& home, native_handle read_end, std::size_t max_line, line_handler on_line,
                         std::function<void()> on_end)
    : home_(home), pipe_(home.context, as_pipe_handle(read_end)), max_line_(max_line), on_line_(std::move(on_line)),
      on_end_(std::move(on_end)) {
  home_.opened();
}

void line_reader::wait_ended(std::chrono::nanoseconds at_most) {
  if (home_.is_current()) return;
  std::unique_lock lock(mutex_);
  ended_cv_.wait_for(lock, at_most, [&] { return ended_; });
}

void line_reader::read_more() {
  pipe_.async_read_some(boost::asio::buffer(buffer_),
                        [self = shared_from_this()](boost::system::error_code ec, std::size_t size) {
                          self->take(size);
                          if (ec) {
                            self->end();  // eof, or the pipe broke: nothing more comes
                          } else {
                            self->read_more();
                          }
                        });
}

void line_reader::take(std::size_t size) {
  partial_.append(buffer_.data(), size);
  std::size_t begin = 0;
  for (std::size_t newline; (newline = partial_.find('\n', begin)) != std::string::npos; begin = newline + 1) {
    std::string_view line(partial_.data() + begin, newline - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    on_line_(line);
  }
  partial_.erase(0, begin);
  while (partial_.size() >= max_line_) {
    on_line_(std::string_view(partial_).substr(0, max_line_));
    partial_.erase(0, max_line_);
  }
}

void line_reader::end() {
  if (!partial_.empty()) on_line_(partial_);
  partial_ = std::string();
  boost::system::error_code ignored;
  pipe_.close(ignored);
  if (on_end_) on_end_();
  on_line_ = nullptr;  // what they hold (the reader's owner, often) goes now
  on_end_ = nullptr;
  {
    std::lock_guard lock(mutex_);
    ended_ = true;
  }
  ended_cv_.notify_all();
  home_.closed();
}

void wait_for_all_output(std::chrono::nanoseconds at_most) {
  auto* thread = existing_output_thread();
  if (thread != nullptr && !thread->is_current()) thread->wait_all_closed(at_most);
}

void forget_output_thread_after_fork() noexcept {
  if (the_thread.load(std::memory_order_relaxed) == nullptr) return;
  the_thread.store(nullptr, std::memory_order_relaxed);
  creation_after_fork = new (std::nothrow) std::mutex();  // the parent's may have been held at the fork
}

}  // namespace mproc::detail
