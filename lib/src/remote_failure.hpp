// A task's exception, sent from a worker and rebuilt in the parent as its own
// type where that type is known (see remote_exception in error.hpp).
#pragma once

#include <exception>
#include <string>
#include <string_view>

namespace mproc::detail {

/// What a worker sends for an exception: its type, message, and the worker's
/// name and pid, '\0' between them.
std::string raised_payload(const std::exception* caught);

/// The exception to rethrow in the parent for a payload made by raised_payload.
std::exception_ptr remote_failure(std::string_view payload);

}  // namespace mproc::detail
