#include "robust_mutex.hpp"

#include "handle.hpp"
#include "process_start.hpp"

#include <mproc/error.hpp>

#include <algorithm>

namespace mproc::detail {
namespace {

// Whether the holder recorded in `mutex` as `owner` is gone. Unsure means alive.
bool holder_dead(const robust_mutex& mutex, std::uint64_t owner) {
  const auto pid = static_cast<DWORD>(owner >> 32);
  windows::unique_handle process(::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE, pid));
  if (!process) return ::GetLastError() == ERROR_INVALID_PARAMETER;  // no such process
  if (::WaitForSingleObject(process.get(), 0) == WAIT_OBJECT_0) return true;
  const std::uint64_t start = mutex.owner_start.load();
  if (mutex.owner.load() != owner) return false;  // changed hands meanwhile: look again
  return start != 0 && start != windows::creation_time(process.get());  // the pid is another process's now
}

void take(robust_mutex& mutex) {
  mutex.owner_start.store(this_process_start());
  mutex.depth = 1;
}

// One attempt: true when the lock is ours.
bool try_once(robust_mutex& mutex, std::uint64_t self, bool& owner_died) {
  std::uint64_t current = mutex.owner.load();
  if (current == 0) {
    if (!mutex.owner.compare_exchange_strong(current, self)) return false;
    take(mutex);
    owner_died = false;
    return true;
  }
  if (current == self) {
    if (mutex.type != static_cast<std::uint32_t>(lock_type::recursive)) {
      throw error("this thread holds the lock already (use recursive_mutex to lock again)");
    }
    ++mutex.depth;
    owner_died = false;
    return true;
  }
  if (holder_dead(mutex, current) && mutex.owner.compare_exchange_strong(current, self)) {
    take(mutex);
    owner_died = true;
    return true;
  }
  return false;
}

}  // namespace

std::uint64_t this_thread_owner() noexcept {
  static const std::uint64_t pid = ::GetCurrentProcessId();
  thread_local const std::uint64_t owner = (pid << 32) | ::GetCurrentThreadId();
  return owner;
}

void init_mutex(robust_mutex& mutex, lock_type type) {
  mutex.owner.store(0);
  mutex.owner_start.store(0);
  mutex.depth = 0;
  mutex.type = static_cast<std::uint32_t>(type);
}

bool lock_mutex(robust_mutex& mutex, std::optional<nanoseconds> timeout, bool* owner_died) {
  const std::uint64_t self = this_thread_owner();
  const auto deadline = timeout ? std::optional(std::chrono::steady_clock::now() + *timeout) : std::nullopt;
  bool died = false;
  for (;;) {
    if (try_once(mutex, self, died)) {
      if (owner_died != nullptr) *owner_died = died;
      return true;
    }
    // A dead holder wakes nobody: look at the holder again every 100 ms.
    auto slice = std::chrono::nanoseconds(std::chrono::milliseconds(100));
    if (deadline) {
      const auto left = *deadline - std::chrono::steady_clock::now();
      if (left <= nanoseconds{0}) return false;
      slice = std::min<nanoseconds>(slice, left);
    }
    sleep_once(mutex.released, slice, [&] { return mutex.owner.load() == 0; });
  }
}

bool try_lock_mutex(robust_mutex& mutex, bool* owner_died) {
  bool died = false;
  const bool taken = try_once(mutex, this_thread_owner(), died);
  *owner_died = died;
  return taken;
}

void unlock_mutex(robust_mutex& mutex) {
  if (mutex.owner.load() != this_thread_owner()) throw error("cannot release a lock this thread does not hold");
  if (mutex.depth > 1) {
    --mutex.depth;
    return;
  }
  mutex.depth = 0;
  mutex.owner_start.store(0);
  mutex.owner.store(0);
  wake_all(mutex.released);
}

}  // namespace mproc::detail
