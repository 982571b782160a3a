// How records lie in a queue's ring (queue.cpp says how they are put and
// taken): the shared header with each side's cache lines, the 8-byte record
// head, and the reads and writes that wrap at the ring's end.
#pragma once

#include "queue_lease.hpp"
#include "unlocking.hpp"
#include "wake_word.hpp"

#include <mproc/queue.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mproc::detail {

namespace queue_ring {

constexpr std::size_t ring_offset = 1024;
constexpr std::uint64_t head_bytes = 8;
constexpr std::uint32_t first_part = 1;
constexpr std::uint32_t last_part = 2;
constexpr std::uint32_t aborted = 4;

constexpr std::uint64_t padded(std::uint64_t n) { return (n + 7) & ~std::uint64_t{7}; }

struct record_head {
  std::uint32_t length;
  std::uint32_t flags;
};
static_assert(sizeof(record_head) == head_bytes);

}  // namespace queue_ring

// Each side writes its own cache lines only: a line written by both would
// cross between the CPUs on every item.
struct byte_queue::header {
  // Written once, read by all.
  std::uint32_t kind;
  std::atomic<std::uint32_t> closed;
  std::uint64_t capacity;  // of the ring, a multiple of 8
  std::uint64_t index_mask;  // capacity - 1 when a power of 2 (a ring index without a division), else 0
  std::uint64_t maxsize;   // 0: none
  // The producers'.
  alignas(64) robust_mutex put_lock;  // for a whole message
  std::atomic<std::uint32_t> producer_state;
  std::atomic<std::uint64_t> pending_end;  // write_pos once the last record of a message is in
  std::atomic<std::uint64_t> put_count;    // whole messages put
  std::uint64_t committed;                 // bytes of the ring committed in /dev/shm
  side_lease put_lease;
  alignas(64) std::atomic<std::uint64_t> write_pos;
  // The consumers'.
  alignas(64) robust_mutex get_lock;  // for a whole message
  std::atomic<std::uint64_t> taken_count;  // whole messages taken, or lost with their consumer
  side_lease get_lease;
  alignas(64) std::atomic<std::uint64_t> read_pos;
  // Sleeping and waking (wake_word.hpp), rarely written.
  alignas(64) wake_word data_ready;  // woken when data comes (or close)
  wake_word room_ready;              // woken when room comes (or close)
  wake_word all_done;                // woken when the unfinished count may be 0
  std::atomic<std::uint64_t> done_count;  // task_done() calls, and items lost with their consumer

  std::byte* ring() noexcept { return reinterpret_cast<std::byte*>(this) + queue_ring::ring_offset; }
  // The most one record carries: producers split items by it, consumers refuse more.
  std::uint64_t largest_part() const noexcept { return (capacity / 4 - queue_ring::head_bytes) & ~std::uint64_t{7}; }
  std::int64_t items() const noexcept {
    const std::uint64_t taken = taken_count.load();
    return static_cast<std::int64_t>(put_count.load() - taken);
  }
  std::int64_t unfinished() const noexcept {
    const std::uint64_t done = done_count.load();
    return static_cast<std::int64_t>(put_count.load() - done);
  }
};
static_assert(sizeof(byte_queue::header) <= queue_ring::ring_offset);

namespace queue_ring {

using header = byte_queue::header;

inline std::uint64_t ring_index(const header& h, std::uint64_t pos) noexcept {
  return h.index_mask != 0 ? pos & h.index_mask : pos % h.capacity;
}

// Small items are most of a busy queue's items: copied inline, not by a call
// to memcpy of a length known only at run time (a sixth of an 8-byte item's time).
inline void copy_bytes(std::byte* to, const std::byte* from, std::size_t n) noexcept {
  if (n >= 8 && n <= 16) {
    std::memcpy(to, from, 8);
    std::memcpy(to + n - 8, from + n - 8, 8);
  } else if (n >= 4 && n < 8) {
    std::memcpy(to, from, 4);
    std::memcpy(to + n - 4, from + n - 4, 4);
  } else {
    std::memcpy(to, from, n);
  }
}

inline void copy_in(header& h, std::uint64_t pos, const void* from, std::size_t n) {
  const std::uint64_t at = ring_index(h, pos);
  const std::size_t before_end = std::min<std::uint64_t>(n, h.capacity - at);
  copy_bytes(h.ring() + at, static_cast<const std::byte*>(from), before_end);
  if (before_end < n) std::memcpy(h.ring(), static_cast<const std::byte*>(from) + before_end, n - before_end);
}

inline void copy_out(header& h, std::uint64_t pos, void* to, std::size_t n) {
  const std::uint64_t at = ring_index(h, pos);
  const std::size_t before_end = std::min<std::uint64_t>(n, h.capacity - at);
  copy_bytes(static_cast<std::byte*>(to), h.ring() + at, before_end);
  if (before_end < n) std::memcpy(static_cast<std::byte*>(to) + before_end, h.ring(), n - before_end);
}

// A head is one 8-byte word, stored and loaded whole: the word that says a
// record is in. Positions and the capacity are multiples of 8, so a head never
// straddles the ring's end.
inline std::atomic_ref<std::uint64_t> head_word(header& h, std::uint64_t pos) noexcept {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(h.ring() + ring_index(h, pos)));
}

inline record_head load_head(header& h, std::uint64_t pos) noexcept {
  const std::uint64_t word = head_word(h, pos).load(std::memory_order_acquire);
  record_head head;
  std::memcpy(&head, &word, sizeof head);
  return head;
}

// Stores `head` at `pos` after the record's bytes, and a zero head after the
// record: until the next record is in, a consumer there sees "nothing yet",
// never an older lap's bytes.
inline void store_head(header& h, std::uint64_t pos, record_head head, std::uint64_t end) noexcept {
  std::uint64_t word;
  std::memcpy(&word, &head, sizeof word);
  head_word(h, end).store(0, std::memory_order_relaxed);
  head_word(h, pos).store(word, std::memory_order_release);
}

// A record a consumer may take on its head alone: all of a message, and no
// longer than a producer writes.
inline bool whole_message(const record_head& head, std::uint64_t largest_part) noexcept {
  return head.flags == (first_part | last_part) && head.length <= largest_part;
}

}  // namespace queue_ring

}  // namespace mproc::detail
