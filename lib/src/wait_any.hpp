// The platform's part of mproc::wait: sleeping until a handle may be ready.
#pragma once

#include <mproc/detail/handles.hpp>

#include <chrono>
#include <optional>
#include <vector>

namespace mproc::detail {

/// True where connections' and sentinels' handles can be polled for
/// readiness (POSIX descriptors); false on Windows (pipes cannot be).
bool handles_can_be_polled() noexcept;

/// Returns when one of `handles` (-1: none) may be ready, or after `timeout`
/// (none: no limit).
void wait_for_any_handle(const std::vector<native_handle>& handles, std::optional<std::chrono::nanoseconds> timeout);

}  // namespace mproc::detail
