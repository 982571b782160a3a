// The queue: a ring of bytes in a shared memory block (a Boost.Interprocess
// shared memory object, see shared_memory.cpp). Producers take turns under a
// put lock, consumers under a get lock, so the ring itself has one writer and
// one reader at a time and moves bytes with two atomic positions: no lock and
// no system call per item while the other side keeps up.
//
// Why not Boost.Interprocess's message_queue: it preallocates depth x largest
// message and refuses anything larger, takes its mutex and signals its
// condition on every message, and its interprocess_mutex stays locked for
// good when a holder dies. None of that meets the queue's goals.
//
// A message is one record, or, when larger than a quarter of the ring, a run
// of records streamed while a consumer reads. Each record is an 8-byte head
// (length, flags) and its bytes, padded to 8. A producer writes a record's
// bytes, zeroes the head after it, then stores its head: a consumer that finds
// a nonzero head holding a whole message takes it without reading the write
// position, a line the producer then keeps to itself (a 1-to-1 queue's items
// each cost one cache line transfer less). Everything else (parts of longer
// messages, records the consumer skips) is read only once the write position
// covers it, so a corrupt ring cannot make a consumer run on. A producer that dies in the
// middle of a message is found by whoever next takes its robust put lock,
// which appends an "aborted" record: a consumer reading that message drops it.
// A consumer that dies in the middle of a message leaves the rest of it in the
// ring; the next consumer meets records that do not start a message and skips
// them.
//
// A side used by one thread for a while is leased to it (queue_lease.hpp): its
// puts (gets) then take no lock. A leased put carries one record at most, so a
// message streamed in parts is always under the put lock.
#include "queue_lease.hpp"
#include "queue_ring.hpp"
#include "unlocking.hpp"
#include "wake_word.hpp"

#include <mproc/queue.hpp>
#include <mproc/shared.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <thread>

namespace mproc::detail {

namespace {

using namespace queue_ring;

constexpr std::uint32_t queue_kind = 0x51554555u;  // "QUEU"

enum producer_states : std::uint32_t { idle = 0, streaming = 1, finishing = 2 };

using clock = std::chrono::steady_clock;
using deadline_type = std::optional<clock::time_point>;

// A zero timeout (try_get, an awaited get's first look) reads no clock: it is
// past already. Reading it twice an item was a fifth of an awaited get's time.
deadline_type deadline_of(std::optional<nanoseconds> timeout) {
  if (!timeout) return std::nullopt;
  if (*timeout <= nanoseconds::zero()) return clock::time_point::min();
  return clock::now() + *timeout;
}

// The same for the queue's locks: with a zero timeout, taken only if free.
bool lock_within(robust_mutex& mutex, std::optional<nanoseconds> timeout, bool* owner_died) {
  if (timeout && *timeout <= nanoseconds::zero()) return try_lock_mutex(mutex, owner_died);
  return lock_mutex(mutex, timeout, owner_died);
}

void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// The bytes of the message get() returns, kept per thread between calls.
// Not a std::string: resizing one zero-fills, a wasted pass over large items.
class receive_buffer {
 public:
  void clear() {
    if (capacity_ > (std::size_t{16} << 20)) *this = receive_buffer();  // a huge item's memory goes back
    size_ = 0;
  }
  std::byte* extend(std::size_t n) {
    if (size_ + n > capacity_) {
      const std::size_t capacity = std::max({size_ + n, capacity_ * 2, std::size_t{256}});
      auto bytes = std::make_unique_for_overwrite<std::byte[]>(capacity);
      if (size_ > 0) std::memcpy(bytes.get(), bytes_.get(), size_);
      bytes_ = std::move(bytes);
      capacity_ = capacity;
    }
    std::byte* at = bytes_.get() + size_;
    size_ += n;
    return at;
  }
  std::string_view view() const { return {reinterpret_cast<const char*>(bytes_.get()), size_}; }

 private:
  std::unique_ptr<std::byte[]> bytes_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// Room a producer that found the ring full waits a moment for (see put_in_turn).
constexpr std::uint64_t stretch_bytes = 4096;

// Waits until ready() or the deadline: a short spin, then yields (a peer on
// our CPU gets to run), then sleeps on `w`. `check` runs between sleeps of at
// most 100 ms (and before the first), to find a peer that died. False at the
// deadline.
template <class Ready, class Check>
bool wait_until(wake_word& w, deadline_type deadline, Ready ready, Check check) {
  if (deadline && clock::now() >= *deadline) return ready();
  for (int i = 0; i < 256; ++i) {
    if (ready()) return true;
    pause();
  }
  for (int i = 0; i < 64; ++i) {
    if (ready()) return true;
    std::this_thread::yield();
  }
  check();  // once before the first sleep too: a peer found dead costs no 100 ms
  for (;;) {
    nanoseconds slice = std::chrono::milliseconds(100);
    if (deadline) {
      const auto left = *deadline - clock::now();
      if (left <= left.zero()) return ready();
      slice = std::min(slice, std::chrono::ceil<nanoseconds>(left));
    }
    if (sleep_once(w, slice, ready)) return true;
    check();
  }
}

// The head at `pos` once it is in, looked at for a short spin (a look only when
// the caller would not wait): a caught-up consumer waits on the line the next
// record goes to, not on the write position's.
record_head head_soon(header& h, std::uint64_t pos, deadline_type deadline) noexcept {
  const int looks = deadline == clock::time_point::min() ? 1 : 256;
  for (int i = 0;; pause()) {
    const record_head head = load_head(h, pos);
    if (head.length != 0 || head.flags != 0 || ++i == looks) return head;
  }
}

void publish(header& h, std::uint64_t write_pos) {
  h.write_pos.store(write_pos, std::memory_order_release);
  wake_all(h.data_ready);
}

// Called when the unfinished count may have reached 0 (join() waits for that).
void notify_if_all_done(header& h) {
  if (h.unfinished() <= 0) wake_all(h.all_done);
}

// The put lock's holder died (or gave up in the middle of a message). A last
// record whose head is in is whole (consumers may have taken it): only the
// write position is left to publish. Otherwise what it had published of an
// unfinished message is ended by an "aborted" record, for which there is
// always room: every record is put only with 16 bytes to spare after it (the
// aborted record and the zero head after it).
void recover_producer(header& h) {
  const std::uint32_t state = h.producer_state.load();
  const std::uint64_t pos = h.write_pos.load();
  if (state == idle || (state == finishing && pos == h.pending_end.load())) {
    h.producer_state.store(idle);
    return;
  }
  if (state == finishing && head_word(h, pos).load(std::memory_order_acquire) != 0) {
    h.producer_state.store(idle);
    publish(h, h.pending_end.load());
    return;
  }
  if (state == finishing) {  // counted, but its last record never went in
    h.put_count.fetch_sub(1);
    notify_if_all_done(h);
  }
  store_head(h, pos, record_head{0, aborted}, pos + head_bytes);
  h.producer_state.store(idle);
  publish(h, pos + head_bytes);
}

// A side's holder (of its lock or lease) died. Only that holder sleeps on the
// side's wake word, so the word's count of sleepers goes with it: left, every
// wake would make a needless system call.
void recover_put_side(header& h) {
  h.room_ready.sleepers.store(0);
  recover_producer(h);
}

void recover_get_side(header& h) { h.data_ready.sleepers.store(0); }

// Under the put (get) lock: no put (get) under a lease from here on. A holder
// that died in one is recovered as a dead lock holder is. False at `deadline`.
bool end_put_lease(header& h, deadline_type deadline) {
  return revoke_lease<clock>(h.put_lease, this_thread_token(), deadline, [&h] { recover_put_side(h); });
}

bool end_get_lease(header& h, deadline_type deadline) {
  return revoke_lease<clock>(h.get_lease, this_thread_token(), deadline, [&h] { recover_get_side(h); });
}

// Called by a consumer waiting for data: is a producer still there? A dead
// holder of the put lock is recovered here (its "aborted" record ends its
// item). True when nobody holds the put lock and nothing past `pos` was
// published: no producer is in the middle of an item, so an item begun
// before `pos` will never be finished.
bool no_producer_after(header& h, std::uint64_t pos) {
  bool owner_died = false;
  if (!try_lock_mutex(h.put_lock, &owner_died)) return false;
  unlocking unlock(h.put_lock);
  // A leased put carries no part of a longer message, but a holder that died
  // in one left its count to recover; and a lock holder that died waiting for
  // a leased put to end had written nothing yet. A live holder keeps its
  // lease: revoked by every consumer that waited while it put, a busy
  // producer would soon have used up its side's leases.
  const bool leased_put = lease_in_use(h.put_lease);
  if (leased_put && !owner_died && lease_owner_alive(h.put_lease.owner)) return false;
  if ((owner_died || leased_put) && !end_put_lease(h, clock::time_point::min())) return false;
  if (owner_died) recover_put_side(h);
  return h.write_pos.load(std::memory_order_acquire) <= pos;
}

}  // namespace

byte_queue::byte_queue(std::size_t maxsize, std::size_t ring_bytes) {
  if (ring_bytes < 4096) throw error("a queue's ring needs at least 4096 bytes");
  if (ring_bytes > (std::size_t{1} << 40)) throw error("a queue's ring cannot be larger than 1 TiB");
  ring_bytes = padded(ring_bytes);
  // The ring is committed as the producers first reach it: a queue costs
  // what it has carried at its fullest, not its capacity.
  block_ = make_block_for(ring_offset + ring_bytes, commit::on_demand);
  if (block_.closed()) return;  // a placeholder, being loaded
  commit_data(block_, 0, ring_offset);
  auto& h = *new (block_.bytes().data()) header{};
  h.capacity = ring_bytes;
  h.index_mask = (ring_bytes & (ring_bytes - 1)) == 0 ? ring_bytes - 1 : 0;
  h.maxsize = maxsize;
  init_mutex(h.put_lock, lock_type::normal);
  init_mutex(h.get_lock, lock_type::normal);
  h.kind = queue_kind;
  header_ = &h;
}

void byte_queue::bind_loaded_block() {
  header_ = nullptr;
  if (block_.closed()) return;
  auto* h = reinterpret_cast<header*>(block_.bytes().data());
  if (block_.size() < ring_offset + 4096 || h->kind != queue_kind) {
    throw serialization_error("the shared memory block is not a queue");
  }
  header_ = h;
}

byte_queue::header& byte_queue::shared() const {
  if (header_ == nullptr) throw closed_error("this queue is an empty handle");
  return *header_;
}

// Under the put lock: commits the ring up to `end` (first lap only), doubling
// so that a queue filling up commits O(log) times.
void byte_queue::commit_ring(std::uint64_t end) {
  header& h = shared();
  const std::uint64_t target = std::min<std::uint64_t>(
      h.capacity, (std::max<std::uint64_t>({end, 2 * h.committed, 64 * 1024}) + 4095) & ~std::uint64_t{4095});
  commit_data(block_, ring_offset + h.committed, target - h.committed);
  h.committed = target;
}

bool byte_queue::put(std::string_view message, std::optional<nanoseconds> timeout) {
  header& h = shared();
  const deadline_type deadline = deadline_of(timeout);
  const std::uint64_t me = this_thread_token();
  if (message.size() <= h.largest_part()) {
    if (const int slot = enter_lease(h.put_lease, me); slot >= 0) {
      leaving_lease leave(h.put_lease, slot);
      return put_in_turn(message, deadline);
    }
  }
  bool owner_died = false;
  if (!lock_within(h.put_lock, timeout, &owner_died)) return false;
  unlocking unlock(h.put_lock);
  if (!end_put_lease(h, deadline)) return false;
  if (owner_died) recover_put_side(h);
  const bool put = put_in_turn(message, deadline);
  if (put) count_locked_call(h.put_lease, me);
  return put;
}

// Under the put lock or lease.
bool byte_queue::put_in_turn(std::string_view message, std::optional<std::chrono::steady_clock::time_point> deadline) {
  header& h = *header_;
  if (h.closed.load()) throw closed_error("put() on a closed queue");

  auto no_check = [] {};
  if (h.maxsize > 0) {
    auto has_room = [&] { return h.items() < static_cast<std::int64_t>(h.maxsize) || h.closed.load(); };
    if (!wait_until(h.room_ready, deadline, has_room, no_check)) return false;
    if (h.closed.load()) throw closed_error("the queue was closed while put() waited for room");
  }

  const std::uint64_t largest_part = h.largest_part();
  std::size_t offset = 0;
  do {
    const std::size_t part = std::min<std::size_t>(message.size() - offset, largest_part);
    const bool last = offset + part == message.size();
    const std::uint64_t pos = h.write_pos.load(std::memory_order_relaxed);
    // And room for an "aborted" record and the zero head after it.
    const std::uint64_t need = head_bytes + padded(part) + 2 * head_bytes;
    auto has_room = [&] {
      if (pos + need - known_read_pos_ <= h.capacity) return true;
      known_read_pos_ = h.read_pos.load(std::memory_order_acquire);
      return pos + need - known_read_pos_ <= h.capacity;
    };
    auto room_or_closed = [&] { return has_room() || h.closed.load() != 0; };
    if (!has_room()) {
      // A full ring: a short spin for a stretch of room first, so that the
      // two sides then work lines apart instead of in lockstep on one
      // record's lines (a consumer slower than its producer had lost about a
      // third of its speed to that). Then room for this record, as any wait.
      const std::uint64_t stretch = std::min<std::uint64_t>(need + stretch_bytes, h.capacity);
      for (int i = 0; i < 512 && pos + stretch - known_read_pos_ > h.capacity; ++i) {
        pause();
        known_read_pos_ = h.read_pos.load(std::memory_order_acquire);
      }
      const bool ready = wait_until(h.room_ready, deadline, room_or_closed, no_check);
      if (!ready || !has_room()) {
        if (offset > 0) recover_producer(h);  // ends the part already in
        if (!ready) return false;
        throw closed_error("the queue was closed while put() waited for room");
      }
    }
    if (pos + need > h.committed && h.committed < h.capacity) {
      try {
        commit_ring(pos + need);
      } catch (...) {
        if (offset > 0) recover_producer(h);  // ends the part already in
        throw;
      }
    }
    const record_head head{static_cast<std::uint32_t>(part),
                           (offset == 0 ? first_part : 0u) | (last ? last_part : 0u)};
    copy_in(h, pos + head_bytes, message.data() + offset, part);
    const std::uint64_t end = pos + head_bytes + padded(part);
    if (last) {
      h.pending_end.store(end, std::memory_order_relaxed);
      h.producer_state.store(finishing, std::memory_order_relaxed);
      // Only the side's holder writes it.
      h.put_count.store(h.put_count.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    } else if (offset == 0) {
      h.producer_state.store(streaming, std::memory_order_relaxed);
    }
    store_head(h, pos, head, end);
    publish(h, end);
    offset += part;
  } while (offset < message.size());
  h.producer_state.store(idle, std::memory_order_relaxed);
  return true;
}

std::optional<std::string_view> byte_queue::get(std::optional<nanoseconds> timeout) {
  header& h = shared();
  const deadline_type deadline = deadline_of(timeout);
  const std::uint64_t me = this_thread_token();
  if (const int slot = enter_lease(h.get_lease, me); slot >= 0) {
    leaving_lease leave(h.get_lease, slot);
    return get_in_turn(deadline);
  }
  bool owner_died = false;
  if (!lock_within(h.get_lock, timeout, &owner_died)) return std::nullopt;
  unlocking unlock(h.get_lock);
  if (!end_get_lease(h, deadline)) return std::nullopt;
  if (owner_died) recover_get_side(h);
  auto got = get_in_turn(deadline);
  if (got) count_locked_call(h.get_lease, me);
  return got;
}

// Under the get lock or lease.
std::optional<std::string_view> byte_queue::get_in_turn(std::optional<std::chrono::steady_clock::time_point> deadline) {
  header& h = *header_;
  bool in_message = false;
  thread_local receive_buffer out;
  out.clear();
  const std::uint64_t largest_part = h.largest_part();
  for (;;) {
    const std::uint64_t pos = h.read_pos.load(std::memory_order_relaxed);
    auto available = [&] {
      if (known_write_pos_ > pos) return true;
      known_write_pos_ = h.write_pos.load(std::memory_order_acquire);
      return known_write_pos_ > pos;
    };
    record_head head{};
    const bool whole = known_write_pos_ <= pos && whole_message(head = head_soon(h, pos, deadline), largest_part);
    if (!whole && !available()) {
      // In the middle of a message, the producer is streaming it: wait for
      // the rest whatever the timeout, or the item would be lost.
      bool abandoned = false;  // the rest will never come: only a corrupt ring does that
      auto ready = [&] { return available() || abandoned || (!in_message && h.closed.load() != 0); };
      // Between items, the put lock is looked at only while a producer is
      // in a put (alive, or dead with an item counted but unfinished): taken
      // by an idle consumer, it made a producer's zero-timeout put fail, and
      // a pool's dispatcher leave a task undelivered.
      auto check = [&] {
        if (in_message || h.producer_state.load() != idle) abandoned = no_producer_after(h, pos) && in_message;
      };
      if (!wait_until(h.data_ready, in_message ? std::nullopt : deadline, ready, check)) {
        return std::nullopt;
      }
      if (abandoned && !available()) {
        in_message = false;
        out.clear();
        continue;
      }
      if (!available()) throw closed_error("the queue is closed and has no more items");
    }
    // Producers publish whole records: one that claims more than was
    // published, or more than a part may hold, was not written by a producer.
    if (!whole) head = load_head(h, pos);
    if (!whole && (head.length > largest_part || pos + head_bytes + padded(head.length) > known_write_pos_)) {
      throw error("the queue's ring is corrupt: a record of " + std::to_string(head.length) +
                  " bytes where at most " + std::to_string(std::min(largest_part, known_write_pos_ - pos)) +
                  " can be");
    }
    const bool first = (head.flags & first_part) != 0;
    const bool last = (head.flags & last_part) != 0;
    bool complete = false;
    if (head.flags & aborted) {  // its producer died or gave up: drop the part taken
      in_message = false;
      out.clear();
    } else if (!in_message && !first) {  // the rest of a message whose consumer died
      if (last) {
        h.taken_count.store(h.taken_count.load(std::memory_order_relaxed) + 1, std::memory_order_release);
        h.done_count.fetch_add(1);  // nobody will: its consumer died
        notify_if_all_done(h);
      }
    } else {
      if (first) out.clear();
      copy_out(h, pos + head_bytes, out.extend(head.length), head.length);
      in_message = !last;
      complete = last;
      if (last) h.taken_count.store(h.taken_count.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
    h.read_pos.store(pos + head_bytes + padded(head.length), std::memory_order_release);
    wake_all(h.room_ready);
    if (complete) return out.view();
  }
}

void byte_queue::load_ring_for_fuzzing(std::string_view records) {
  header& h = shared();
  const std::size_t size = std::min<std::size_t>(records.size(), h.capacity - head_bytes) & ~std::size_t{7};
  if (h.committed < h.capacity) commit_ring(h.capacity);
  std::memcpy(h.ring(), records.data(), size);
  std::memset(h.ring() + size, 0, h.capacity - size);  // as producers leave it: no record after the last
  h.read_pos.store(0);
  h.write_pos.store(size);
  h.put_count.store(size / head_bytes);
  h.taken_count.store(0);
  h.producer_state.store(idle);
  known_read_pos_ = 0;
  known_write_pos_ = 0;
}

wake_word& byte_queue::data_changes() const { return shared().data_ready; }
wake_word& byte_queue::room_changes() const { return shared().room_ready; }

bool byte_queue::empty() const { return size() == 0; }

std::size_t byte_queue::size() const {
  const std::int64_t items = shared().items();
  return items > 0 ? static_cast<std::size_t>(items) : 0;
}

std::size_t byte_queue::maxsize() const { return static_cast<std::size_t>(shared().maxsize); }

void byte_queue::close() {
  header& h = shared();
  h.closed.store(1);
  wake_all(h.data_ready);
  wake_all(h.room_ready);
}

bool byte_queue::closed() const { return shared().closed.load() != 0; }

void byte_queue::task_done() {
  header& h = shared();
  std::uint64_t done = h.done_count.load();
  do {
    if (static_cast<std::int64_t>(h.put_count.load() - done) <= 0) {
      throw error("task_done() called more times than items were put");
    }
  } while (!h.done_count.compare_exchange_weak(done, done + 1));
  notify_if_all_done(h);
}

bool byte_queue::join(std::optional<nanoseconds> timeout) {
  header& h = shared();
  auto no_check = [] {};
  return wait_until(h.all_done, deadline_of(timeout), [&] { return h.unfinished() <= 0; },
                    no_check);
}

}  // namespace mproc::detail
