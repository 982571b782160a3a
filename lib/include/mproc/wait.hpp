// Waiting for any of several objects (Python's multiprocessing.connection.wait):
// connections with a message or a closed peer, processes that ended, queues
// with an item waiting (or shut down).
//
//   auto ready = mproc::wait({reader_1, reader_2, worker}, std::chrono::seconds(1));
//   for (std::size_t i : ready) ...          // indices into the list, in its order
//
// On POSIX, a list of connections and processes is one poll() of their
// descriptors. Queues live in shared memory with no descriptor to poll, and
// Windows pipes cannot be waited on: with either in the list, wait() looks at
// each object at least every millisecond. Any number of objects, on both.
#pragma once

#include <mproc/detail/handles.hpp>
#include <mproc/detail/timeout.hpp>
#include <mproc/pipe.hpp>
#include <mproc/process.hpp>
#include <mproc/queue.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <optional>
#include <ranges>
#include <vector>

namespace mproc {

/// One object wait() watches. Made implicitly from what it refers to; the
/// process must outlive the wait.
class wait_object {
 public:
  /// Ready when recv() would not block: a message waits, or the peer is gone.
  wait_object(const connection& end);
  /// Ready when the process has ended (or was never started).
  wait_object(const process& child);
  /// Ready when an item is waiting, or the queue is shut down.
  template <class T>
  wait_object(const queue<T>& items)
      : ready_([items] { return !items.empty() || items.is_shutdown(); }) {}

  /// Checks now, without waiting.
  bool ready() const { return ready_(); }
  /// A descriptor that poll() reports readable when this may be ready; -1 if none.
  detail::native_handle pollable() const noexcept { return pollable_; }

 private:
  std::function<bool()> ready_;
  detail::native_handle pollable_ = -1;
};

namespace detail {
std::vector<std::size_t> wait_objects(const std::vector<wait_object>& objects,
                                      std::optional<std::chrono::nanoseconds> timeout);
}

/// The indices of `objects` that are ready, waiting until at least one is.
inline std::vector<std::size_t> wait(const std::vector<wait_object>& objects) {
  return detail::wait_objects(objects, std::nullopt);
}
/// The same, waiting at most `timeout` (empty if none became ready). A
/// negative timeout does not wait; a huge one is no limit.
template <class Rep, class Period>
std::vector<std::size_t> wait(const std::vector<wait_object>& objects, std::chrono::duration<Rep, Period> timeout) {
  const std::chrono::nanoseconds limit = detail::saturated(timeout);
  if (limit == detail::longest_wait) return detail::wait_objects(objects, std::nullopt);
  return detail::wait_objects(objects, limit);
}
/// Any range of connections, processes or queues of one type.
template <std::ranges::input_range Range>
  requires std::convertible_to<std::ranges::range_reference_t<Range>, wait_object> &&
           (!std::same_as<std::remove_cvref_t<Range>, std::vector<wait_object>>)
std::vector<std::size_t> wait(const Range& objects) {
  return wait(std::vector<wait_object>(std::ranges::begin(objects), std::ranges::end(objects)));
}
template <std::ranges::input_range Range, class Rep, class Period>
  requires std::convertible_to<std::ranges::range_reference_t<Range>, wait_object> &&
           (!std::same_as<std::remove_cvref_t<Range>, std::vector<wait_object>>)
std::vector<std::size_t> wait(const Range& objects, std::chrono::duration<Rep, Period> timeout) {
  return wait(std::vector<wait_object>(std::ranges::begin(objects), std::ranges::end(objects)), timeout);
}

}  // namespace mproc
