// Timeouts as every wait of mproc takes them: any duration, saturated.
#pragma once

#include <chrono>

namespace mproc::detail {

/// The longest wait that is still a wait: past it, a timeout means no limit.
/// A century keeps every deadline (now + timeout, in nanoseconds of any clock)
/// far from overflow.
inline constexpr std::chrono::nanoseconds longest_wait = std::chrono::hours(24 * 365 * 100);

/// `timeout` in nanoseconds: zero for a negative one ("do not wait"),
/// longest_wait for a huge one. Converting hours::max() directly would
/// overflow into a negative count (which returned at once).
template <class Rep, class Period>
std::chrono::nanoseconds saturated(std::chrono::duration<Rep, Period> timeout) {
  const std::chrono::duration<long double> asked(timeout);  // no overflow in long double
  if (!(asked.count() > 0)) return std::chrono::nanoseconds::zero();  // negative, zero, NaN
  if (asked >= std::chrono::duration<long double>(longest_wait)) return longest_wait;
  return std::chrono::ceil<std::chrono::nanoseconds>(timeout);
}

}  // namespace mproc::detail
