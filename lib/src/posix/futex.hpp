// Sleeping on a 32-bit word in shared memory (Linux futexes). Unlike pthread's
// condition variables, a futex has no internal lock that a process killed in
// the middle of a wait could leave held: glibc's process-shared condition
// variables are broken for good by a waiter SIGKILLed at the wrong moment
// (seen in the queue tests under ASan), so waits between processes use these.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace mproc::detail {

/// Sleeps while `word` holds `expected`, at most `timeout`. False when the
/// timeout ran out; true when woken, or at once if the word had changed.
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::optional<std::chrono::nanoseconds> timeout) noexcept;
/// Wakes every process sleeping on `word`.
void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept;

}  // namespace mproc::detail
