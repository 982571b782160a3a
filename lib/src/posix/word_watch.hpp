// What the word watcher (word_watcher.cpp) needs of the platform: holding a
// place among a wake word's sleepers without a thread asleep on it, and one
// thread sleeping on many words at once. Linux: futex_waitv (5.16 and later).
#pragma once

#include "wake_word.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace mproc::detail {

/// How many words one watcher thread sleeps on (futex_waitv takes 128; one is its bell).
inline constexpr std::size_t words_per_watcher_thread = 127;

/// A pending wait's place among the sleepers of `word`: counted, so that a
/// change wakes; `seen` is the word's value when the place was taken.
struct word_hold {
  wake_word* word = nullptr;
  std::uint32_t seen = 0;
};
/// Counts a sleeper on `w`; the caller then looks whether what it waits for is there.
word_hold hold_word(wake_word& w) noexcept;
/// Gives the place back.
void release_word(word_hold& hold) noexcept;

/// What wakes a watcher thread when its list of words changes.
class watcher_bell {
 public:
  /// Call before looking at the list: a ring after this ends the next sleep at once.
  std::uint32_t prepare() noexcept { return word_.load(); }
  void ring() noexcept;

 private:
  friend std::vector<std::size_t> sleep_on_words(const std::vector<const word_hold*>&, watcher_bell&, std::uint32_t,
                                                 std::optional<std::chrono::milliseconds>);
  std::atomic<std::uint32_t> word_{0};
};

/// Sleeps until a held word may have changed, the bell rings or `timeout`
/// (empty: none) passes; the indices of the holds whose word changed.
std::vector<std::size_t> sleep_on_words(const std::vector<const word_hold*>& holds, watcher_bell& bell,
                                        std::uint32_t bell_seen, std::optional<std::chrono::milliseconds> timeout);

}  // namespace mproc::detail
