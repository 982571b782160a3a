// Pending asynchronous waits on wake words (queue items, semaphore units, an
// event's flag), slept on by a few threads of this process rather than a
// thread each: one thread per words_per_watcher_thread watches, made when
// needed and kept (they sleep without a timeout when they have nothing to
// watch). A watch fires when its word changes, or after 100 ms at most, so
// that its owner looks again for a peer that died (as the blocking waits do).
#pragma once

#include "word_watch.hpp"

#include <cstdint>
#include <functional>

namespace mproc::detail {

/// Watches `hold`'s word (the caller has taken the hold and found nothing
/// yet) and calls `fire` once, from a watcher thread, when it changed or
/// 100 ms passed; the hold is released before. The word must stay where it
/// is until the watch has fired or unwatch_word() has returned. An id for
/// unwatch_word().
std::uint64_t watch_word(word_hold hold, std::function<void()> fire);
/// Ends watch `id` without firing it, and returns once no watcher thread
/// reads its word any more (a few microseconds: the thread is woken for it);
/// false if it had fired. Not from a `fire` function.
bool unwatch_word(std::uint64_t id) noexcept;

}  // namespace mproc::detail
