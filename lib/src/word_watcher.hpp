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
#include <memory>

namespace mproc::detail {

/// Watches `hold`'s word (the caller has taken the hold and found nothing
/// yet) and calls `fire` once, from a watcher thread, when it changed or
/// 100 ms passed; the hold is released before. `owner` keeps what the word
/// lives in until then. An id for unwatch().
std::uint64_t watch_word(word_hold hold, std::shared_ptr<const void> owner, std::function<void()> fire);
/// Ends watch `id` without firing it (its hold is released soon, by its
/// thread); false if it has fired already.
bool unwatch_word(std::uint64_t id) noexcept;

}  // namespace mproc::detail
