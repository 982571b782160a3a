// Who holds a queue side's lease (queue_lease.hpp), on Windows. Leases are
// not granted here (no light fences: see wake_word.hpp); revoking one still
// looks for a holder.
#include "../queue_lease.hpp"

#include "handle.hpp"
#include "process_start.hpp"

#include <windows.h>

namespace mproc::detail {

namespace {

std::atomic<std::uint64_t> threads_seen{0};

}  // namespace

lease_owner this_lease_owner() noexcept {
  return {static_cast<std::int64_t>(::GetCurrentProcessId()), this_process_start()};
}

bool lease_owner_alive(const lease_owner& owner) noexcept {
  windows::unique_handle process(
      ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE, static_cast<DWORD>(owner.pid)));
  if (!process) return ::GetLastError() != ERROR_INVALID_PARAMETER;  // unsure means alive
  if (::WaitForSingleObject(process.get(), 0) == WAIT_OBJECT_0) return false;
  return windows::creation_time(process.get()) == owner.start_time;
}

std::uint64_t this_thread_token() noexcept {
  thread_local const std::uint64_t token =
      (static_cast<std::uint64_t>(::GetCurrentProcessId()) << 32) ^ (this_lease_owner().start_time << 8) ^
      (threads_seen.fetch_add(1) + 1);
  return (token << 8) | (lease_slot_bits + 1);
}

}  // namespace mproc::detail
