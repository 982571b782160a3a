#include <mproc/wait.hpp>

#include "wait_any.hpp"

#include <algorithm>

namespace mproc {

wait_object::wait_object(const connection& end)
    : ready_([copy = connection(end)]() mutable { return copy.closed() || copy.poll(); }),
      pollable_(end.closed() || !detail::handles_can_be_polled() ? -1 : end.native_handle()) {}

wait_object::wait_object(const process& child)
    : ready_([&child] { return !child.is_alive(); }),
      pollable_(detail::handles_can_be_polled() ? child.sentinel() : -1) {}

namespace detail {

std::vector<std::size_t> wait_objects(const std::vector<wait_object>& objects,
                                      std::optional<std::chrono::nanoseconds> timeout) {
  using clock = std::chrono::steady_clock;
  const auto until = timeout ? std::optional(clock::now() + *timeout) : std::nullopt;
  std::vector<native_handle> handles;
  bool all_pollable = true;
  for (const auto& object : objects) {
    handles.push_back(object.pollable());
    all_pollable = all_pollable && object.pollable() != -1;
  }
  // Without a descriptor for every object, look at each at least this often.
  constexpr std::chrono::nanoseconds look_again = std::chrono::milliseconds(1);
  for (;;) {
    std::vector<std::size_t> ready;
    for (std::size_t i = 0; i < objects.size(); ++i) {
      if (objects[i].ready()) ready.push_back(i);
    }
    if (!ready.empty()) return ready;
    std::optional<std::chrono::nanoseconds> slice;
    if (until) {
      const auto left = *until - clock::now();
      if (left <= clock::duration::zero()) return ready;
      slice = std::chrono::ceil<std::chrono::nanoseconds>(left);
    }
    if (!all_pollable || objects.empty()) slice = slice ? std::min(*slice, look_again) : look_again;
    wait_for_any_handle(handles, slice);
  }
}

}  // namespace detail
}  // namespace mproc
