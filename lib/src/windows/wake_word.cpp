#include "wake_word.hpp"

#include <algorithm>
#include <random>
#include <string>

#include <windows.h>

namespace mproc::detail {
namespace {

// From the system's generator each time (only the first sleep on a word asks).
std::uint64_t random_id() {
  std::random_device device;
  std::uint64_t id = 0;
  while (id == 0) id = (std::uint64_t{device()} << 32) | device();
  return id;
}

std::wstring semaphore_name(std::uint64_t id) {
  wchar_t name[64];
  swprintf(name, 64, L"Local\\mproc-wake-%016llx", static_cast<unsigned long long>(id));
  return name;
}

}  // namespace

void* open_sleep_semaphore(wake_word& w) noexcept {
  std::uint64_t id = w.id.load();
  if (id == 0) {
    std::uint64_t made = 0;
    try {
      made = random_id();
    } catch (...) {
      return nullptr;
    }
    id = w.id.compare_exchange_strong(id, made) ? made : id;
  }
  return ::CreateSemaphoreW(nullptr, 0, MAXLONG, semaphore_name(id).c_str());
}

void sleep_on_semaphore(void* semaphore, std::optional<std::chrono::nanoseconds> left) noexcept {
  DWORD milliseconds = INFINITE;
  if (left) {
    milliseconds = static_cast<DWORD>(std::clamp<long long>(
        std::chrono::ceil<std::chrono::milliseconds>(*left).count(), 0, INFINITE - 1));
  }
  if (semaphore == nullptr) {  // no semaphore to be had: sleep a little and look again
    ::Sleep(std::min<DWORD>(milliseconds, 1));
    return;
  }
  if (milliseconds > 0) ::WaitForSingleObject(semaphore, milliseconds);
  ::CloseHandle(semaphore);
}

void wake_sleepers(wake_word& w) noexcept {
  const std::uint64_t id = w.id.load();
  const auto sleepers = static_cast<LONG>(std::min<std::uint32_t>(w.sleepers.load(), MAXLONG));
  if (id == 0 || sleepers == 0) return;
  HANDLE semaphore = ::OpenSemaphoreW(SEMAPHORE_MODIFY_STATE, FALSE, semaphore_name(id).c_str());
  if (semaphore == nullptr) return;  // every sleeper has gone already
  ::ReleaseSemaphore(semaphore, sleepers, nullptr);
  ::CloseHandle(semaphore);
}

}  // namespace mproc::detail
