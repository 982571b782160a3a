// What the word watcher (word_watcher.cpp) needs of the platform: holding a
// place among a wake word's sleepers without a thread asleep on it, and one
// thread sleeping on many words at once. Windows: the words' semaphores, in
// WaitForMultipleObjects.
#pragma once

#include "wake_word.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace mproc::detail {

/// How many words one watcher thread sleeps on (64 handles, one is its bell).
inline constexpr std::size_t words_per_watcher_thread = 63;

/// A pending wait's place among the sleepers of `word`, with the semaphore a
/// change releases.
struct word_hold {
  wake_word* word = nullptr;
  void* semaphore = nullptr;
};
word_hold hold_word(wake_word& w) noexcept;
void release_word(word_hold& hold) noexcept;

/// What wakes a watcher thread when its list of words changes.
class watcher_bell {
 public:
  watcher_bell();
  ~watcher_bell();
  watcher_bell(const watcher_bell&) = delete;
  watcher_bell& operator=(const watcher_bell&) = delete;
  std::uint32_t prepare() noexcept { return 0; }  // an auto-reset event keeps a ring for the next sleep
  void ring() noexcept;
  void* handle() const noexcept { return event_; }

 private:
  void* event_;
};

/// Sleeps until a held word's semaphore is released, the bell rings or
/// `timeout` (empty: none) passes; the index of the hold that was woken.
std::vector<std::size_t> sleep_on_words(const std::vector<const word_hold*>& holds, watcher_bell& bell,
                                        std::uint32_t bell_seen, std::optional<std::chrono::milliseconds> timeout);

}  // namespace mproc::detail
