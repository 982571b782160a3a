#include "output_thread.hpp"

#include "captured_output.hpp"

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
