#include "word_watch.hpp"

#include <algorithm>

#include <windows.h>

namespace mproc::detail {

word_hold hold_word(wake_word& w) noexcept {
  void* semaphore = open_sleep_semaphore(w);  // open before counted, as in sleep_once()
  w.sleepers.fetch_add(1);
  return {&w, semaphore};
}

void release_word(word_hold& hold) noexcept {
  if (hold.word == nullptr) return;
  std::uint32_t count = hold.word->sleepers.load();
  while (count > 0 && !hold.word->sleepers.compare_exchange_weak(count, count - 1)) {
  }
  if (hold.semaphore != nullptr) ::CloseHandle(hold.semaphore);
  hold = {};
}

watcher_bell::watcher_bell() : event_(::CreateEventW(nullptr, FALSE, FALSE, nullptr)) {}
watcher_bell::~watcher_bell() {
  if (event_ != nullptr) ::CloseHandle(event_);
}
void watcher_bell::ring() noexcept { ::SetEvent(event_); }

std::vector<std::size_t> sleep_on_words(const std::vector<const word_hold*>& holds, watcher_bell& bell,
                                        std::uint32_t, std::optional<std::chrono::milliseconds> timeout) {
  std::vector<HANDLE> handles{bell.handle()};
  std::vector<std::size_t> index_of;  // handles[i + 1] belongs to holds[index_of[i]]
  for (std::size_t i = 0; i < holds.size(); ++i) {
    if (holds[i]->semaphore == nullptr) continue;  // no semaphore to be had: the timeout looks again
    handles.push_back(holds[i]->semaphore);
    index_of.push_back(i);
  }
  DWORD ms = INFINITE;
  if (timeout) ms = static_cast<DWORD>(std::clamp<long long>(timeout->count(), 0, INFINITE - 1));
  if (index_of.size() < holds.size()) ms = std::min<DWORD>(ms, 1);
  const DWORD woken = ::WaitForMultipleObjects(static_cast<DWORD>(handles.size()), handles.data(), FALSE, ms);
  if (woken > WAIT_OBJECT_0 && woken < WAIT_OBJECT_0 + handles.size()) return {index_of[woken - WAIT_OBJECT_0 - 1]};
  return {};
}

}  // namespace mproc::detail
