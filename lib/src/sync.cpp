// The synchronisation objects: robust mutexes (robust_mutex.hpp) and wake
// words (wake_word.hpp) in shared memory blocks. A lock whose holder died is taken
// over, where Python's stays locked for good; and no waiter, killed in the
// middle of a wait, can leave an object unusable (a process-shared pthread
// condition variable can be: its internal lock stays held).
#include "lock_lease.hpp"
#include "unlocking.hpp"
#include "wake_word.hpp"

#include <mproc/detail/handles.hpp>
#include <mproc/sync.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <thread>


namespace mproc {
namespace detail {

struct sync_cell {
  std::uint32_t kind = 0;
  void (*initialize)(void*, const std::int64_t*) = nullptr;
  std::int64_t settings[2] = {0, 0};
  std::mutex making;  // makes the block once, for every copy
  shared_memory block;
  std::atomic<void*> state{nullptr};
};

namespace {

constexpr std::uint32_t mutex_kind = 0x4c4f434bu;      // "LOCK"
constexpr std::uint32_t rmutex_kind = 0x524c434bu;     // "RLCK"
constexpr std::uint32_t semaphore_kind = 0x53454d41u;  // "SEMA"
constexpr std::uint32_t event_kind = 0x45564e54u;      // "EVNT"
constexpr std::uint32_t condition_kind = 0x434f4e44u;  // "COND"
constexpr std::uint32_t barrier_kind = 0x42415252u;    // "BARR"
constexpr std::size_t state_bytes = 512;

struct lock_state {
  std::uint32_t kind;
  robust_mutex mutex;
  wake_word released;  // woken at each unlock, for asynchronous lockers (async_acquire)
  lock_lease lease;    // a mutex's only: a recursive_mutex never grants one
};

// Every state has a wake_word (wake_word.hpp), `changes`, woken whenever a waiter
// may have something to wake for; waiters sleep on it.
struct semaphore_state {
  std::uint32_t kind;
  robust_mutex mutex;
  wake_word changes;
  std::int64_t value;
  std::int64_t bound;  // < 0: none
};

struct event_state {
  std::uint32_t kind;
  wake_word changes;
  std::atomic<std::uint32_t> flag;
};

struct condition_state {
  std::uint32_t kind;
  wake_word changes;
  std::atomic<std::uint32_t> waiters;  // in wait() now
  std::atomic<std::uint32_t> permits;  // wake-ups given by notify() and not yet taken
};

struct barrier_state {
  std::uint32_t kind;
  robust_mutex mutex;
  wake_word changes;
  std::uint64_t parties;
  std::uint64_t count;                       // arrived in this generation
  std::atomic<std::uint64_t> generation;     // ends when the last party arrives (or a reset)
  std::atomic<std::uint64_t> broken_before;  // generations below this were broken by reset()
  std::atomic<std::uint32_t> broken;         // aborted or timed out, until reset()
  std::int64_t default_timeout_ns;           // < 0: none
};

static_assert(sizeof(barrier_state) <= state_bytes && sizeof(semaphore_state) <= state_bytes &&
              sizeof(lock_state) <= state_bytes);

template <class State>
State& as(void* state) {
  return *static_cast<State*>(state);
}

using clock = std::chrono::steady_clock;

std::optional<clock::time_point> deadline_of(std::optional<nanoseconds> timeout) {
  if (!timeout) return std::nullopt;
  return clock::now() + *timeout;
}

// What is left of `deadline`; false if nothing.
bool time_left(const std::optional<clock::time_point>& deadline, std::optional<nanoseconds>& left) {
  if (!deadline) return true;
  left = std::chrono::ceil<nanoseconds>(*deadline - clock::now());
  return *left > nanoseconds{0};
}

// Sleeps until `ready()` or the deadline; false at the deadline. ready() may
// take what it finds (a permit, a semaphore's unit): it says true once for it.
template <class Ready>
bool sleep_until(wake_word& changes, const std::optional<clock::time_point>& deadline, Ready ready) {
  for (;;) {
    if (ready()) return true;
    std::optional<nanoseconds> left;
    if (!time_left(deadline, left)) return false;
    if (sleep_once(changes, left, ready)) return true;
  }
}

// Takes the lock: by its lease if this thread holds that, else by the mutex,
// ending any lease (lock_lease.hpp). False when `timeout` ran out.
bool acquire(lock_state& s, std::optional<nanoseconds> timeout) {
  const std::uint64_t me = this_thread_token();
  const lease_lock by_lease = lock_by_lease(s.lease, me);
  if (by_lease == lease_lock::taken) return true;
  // Held by this thread's lease (perhaps revoked while it held the lock): an
  // error, as the mutex's EDEADLK is (also for a try).
  if (by_lease == lease_lock::held_already || held_by_lease(s.lease, me)) {
    throw error("this thread holds the lock already (use recursive_mutex to lock again)");
  }
  const auto deadline = deadline_of(timeout);
  if (!timeout) {
    lock_mutex(s.mutex);
  } else if (!lock_mutex(s.mutex, timeout)) {
    return false;
  }
  // A holder found dead holding the lock by its lease is taken over, as a
  // dead holder of the mutex is: nothing else to recover. Until its unlock,
  // this sleeps on `released`, which the unlock wakes: a lock may be held long.
  auto until_unlocked = [&s](const std::atomic<std::uint64_t>& busy, nanoseconds at_most) {
    sleep_once(s.released, at_most, [&busy] { return busy.load(std::memory_order_acquire) == 0; });
  };
  if (!revoke_lease<clock>(s.lease, me, deadline, [] {}, until_unlocked)) {
    unlock_mutex(s.mutex);
    return false;
  }
  if (s.kind == mutex_kind) count_locked_call(s.lease, me);
  return true;
}

// Lockers that block sleep in the mutex itself, or on `released` while a lease
// holder has the lock (revoke_lease); asynchronous ones on `released` too (a
// fence and a load when there are none).
void release(lock_state& s) {
  if (!unlock_by_lease(s.lease, this_thread_token())) unlock_mutex(s.mutex);
  wake_all(s.released);
}

}  // namespace

sync_object::sync_object(std::uint32_t kind, void (*initialize)(void*, const std::int64_t*), std::int64_t first,
                         std::int64_t second)
    : cell_(std::make_shared<sync_cell>()) {
  cell_->kind = kind;
  cell_->initialize = initialize;
  cell_->settings[0] = first;
  cell_->settings[1] = second;
  // Made now, as Python makes its locks: a forked child must find the block
  // already there to share it. Not while a child decodes its arguments: the
  // object made there is a placeholder that load() replaces.
  if (current_inbox() == nullptr) made_ = make_state();
}

void* sync_object::make_state() const {
  if (!cell_) throw closed_error("this synchronisation object is an empty handle");
  if (void* made = cell_->state.load(std::memory_order_acquire)) return made;
  std::lock_guard lock(cell_->making);
  if (void* made = cell_->state.load(std::memory_order_relaxed)) return made;
  cell_->block = shared_memory::create(state_bytes);
  void* made = cell_->block.bytes().data();
  cell_->initialize(made, cell_->settings);
  std::memcpy(made, &cell_->kind, sizeof cell_->kind);
  cell_->state.store(made, std::memory_order_release);
  return made;
}

const shared_memory& sync_object::block() const {
  state();
  return cell_->block;
}

void sync_object::adopt(shared_memory block) {
  if (block.size() < state_bytes) throw serialization_error("the shared block is not a synchronisation object");
  std::uint32_t kind = 0;
  std::memcpy(&kind, block.bytes().data(), sizeof kind);
  auto cell = std::make_shared<sync_cell>();
  cell->kind = kind;
  cell->block = std::move(block);
  cell->state.store(cell->block.bytes().data());
  made_ = cell->block.bytes().data();
  cell_ = std::move(cell);
}

}  // namespace detail

// ---- mutex, recursive_mutex ----

namespace {

void make_lock(void* state, detail::lock_type type, std::uint32_t kind) {
  auto& s = *new (state) detail::lock_state{};
  s.kind = kind;
  detail::init_mutex(s.mutex, type);
}

}  // namespace

detail::wake_word& mutex::released_word() const { return detail::as<detail::lock_state>(state()).released; }

mutex::mutex()
    : basic_lock(detail::mutex_kind, [](void* state, const std::int64_t*) {
        make_lock(state, detail::lock_type::error_checking, detail::mutex_kind);
      }) {}


recursive_mutex::recursive_mutex()
    : basic_lock(detail::rmutex_kind, [](void* state, const std::int64_t*) {
        make_lock(state, detail::lock_type::recursive, detail::rmutex_kind);
      }) {}

namespace detail {

void basic_lock::lock() { acquire(as<lock_state>(state()), std::nullopt); }
bool basic_lock::try_lock() { return lock_within(nanoseconds{0}); }
bool basic_lock::lock_within(std::optional<nanoseconds> timeout) { return acquire(as<lock_state>(state()), timeout); }
void basic_lock::unlock() { release(as<lock_state>(state())); }

}  // namespace detail

// ---- semaphore, bounded_semaphore ----

semaphore::semaphore(std::int64_t value) : semaphore(value, -1) {}

semaphore::semaphore(std::int64_t value, std::int64_t bound)
    : sync_object(detail::semaphore_kind, [](void* state, const std::int64_t* settings) {
        auto& s = *new (state) detail::semaphore_state{};
        detail::init_mutex(s.mutex, detail::lock_type::normal);
        s.value = settings[0];
        s.bound = settings[1];
      }, value, bound) {
  if (value < 0) throw error("a semaphore's value cannot be negative");
}

void semaphore::acquire() { acquire_within(std::nullopt); }
bool semaphore::try_acquire() { return acquire_within(detail::nanoseconds{0}); }

bool semaphore::acquire_within(std::optional<detail::nanoseconds> timeout) {
  auto& s = detail::as<detail::semaphore_state>(state());
  return detail::sleep_until(s.changes, detail::deadline_of(timeout), [&] {
    detail::lock_mutex(s.mutex);
    detail::unlocking unlock(s.mutex);
    if (s.value == 0) return false;
    --s.value;
    return true;
  });
}

void semaphore::release(std::int64_t n) {
  if (n < 1) throw error("a semaphore is released by 1 or more");
  auto& s = detail::as<detail::semaphore_state>(state());
  detail::lock_mutex(s.mutex);
  detail::unlocking unlock(s.mutex);
  if (s.bound >= 0 && s.value + n > s.bound) {
    throw error("bounded semaphore released too many times (its value would pass " + std::to_string(s.bound) + ")");
  }
  s.value += n;
  detail::wake_all(s.changes);  // the woken compete for the value under the lock
}

std::int64_t semaphore::value() const {
  auto& s = detail::as<detail::semaphore_state>(state());
  detail::lock_mutex(s.mutex);
  detail::unlocking unlock(s.mutex);
  return s.value;
}

detail::wake_word& semaphore::changes_word() const { return detail::as<detail::semaphore_state>(state()).changes; }

bounded_semaphore::bounded_semaphore(std::int64_t value) : semaphore(value, value) {}

// ---- event ----

event::event()
    : sync_object(detail::event_kind, [](void* state, const std::int64_t*) {
        new (state) detail::event_state{};
      }) {}

void event::set() {
  auto& s = detail::as<detail::event_state>(state());
  s.flag.store(1);
  detail::wake_all(s.changes);
}

void event::clear() { detail::as<detail::event_state>(state()).flag.store(0); }

detail::wake_word& event::changes_word() const { return detail::as<detail::event_state>(state()).changes; }

bool event::is_set() const { return detail::as<detail::event_state>(state()).flag.load() != 0; }

void event::wait() { wait_within(std::nullopt); }

bool event::wait_within(std::optional<detail::nanoseconds> timeout) {
  auto& s = detail::as<detail::event_state>(state());
  return detail::sleep_until(s.changes, detail::deadline_of(timeout), [&] { return s.flag.load() != 0; });
}

// ---- condition ----

condition::condition(mutex lock)
    : sync_object(detail::condition_kind, [](void* state, const std::int64_t*) {
        new (state) detail::condition_state{};
      }),
      lock_(std::move(lock)) {}

void condition::wait() { wait_within(std::nullopt); }

namespace {

// A waiter wakes only with a permit, so that notify(n) wakes n of them.
bool take_permit(detail::condition_state& s) {
  std::uint32_t permits = s.permits.load();
  while (permits > 0) {
    if (s.permits.compare_exchange_weak(permits, permits - 1)) return true;
  }
  return false;
}

// Gives up to `n` permits, no more than there are waiters without one.
void give_permits(detail::condition_state& s, std::uint64_t n) {
  std::uint32_t permits = s.permits.load();
  for (;;) {
    const std::uint32_t waiting = s.waiters.load();
    const std::uint32_t wanting = waiting > permits ? waiting - permits : 0;
    const auto given = static_cast<std::uint32_t>(std::min<std::uint64_t>(n, wanting));
    if (given == 0) return;
    if (s.permits.compare_exchange_weak(permits, permits + given)) break;
  }
  detail::wake_all(s.changes);
}

}  // namespace

bool condition::wait_within(std::optional<detail::nanoseconds> timeout) {
  auto& s = detail::as<detail::condition_state>(state());
  auto& held = detail::as<detail::lock_state>(lock_.state());
  const auto deadline = detail::deadline_of(timeout);
  // Counted as a waiter before the lock is let go: a notify() made under the
  // lock after this point finds us.
  s.waiters.fetch_add(1);
  detail::release(held);
  const bool woken = detail::sleep_until(s.changes, deadline, [&] { return take_permit(s); });
  s.waiters.fetch_sub(1);
  detail::acquire(held, std::nullopt);
  return woken;
}

void condition::start_async_wait(detail::async_executor executor, detail::async_handler<> done) {
  auto& s = detail::as<detail::condition_state>(state());
  s.waiters.fetch_add(1);
  try {
    detail::release(detail::as<detail::lock_state>(lock_.state()));
  } catch (...) {  // not held by this thread: the wait completes with that error, posted
    s.waiters.fetch_sub(1);
    detail::async_attempt_until(
        s.changes, [failure = std::current_exception()]() -> bool { std::rethrow_exception(failure); }, executor,
        std::move(done), "the wait for a notification was cancelled");
    return;
  }
  detail::async_attempt_until(
      s.changes, [self = *this]() mutable { return take_permit(detail::as<detail::condition_state>(self.state())); },
      executor,
      detail::make_then_handler(std::move(done),
                                [self = *this, executor](auto finish, std::exception_ptr failure) mutable {
                                  detail::as<detail::condition_state>(self.state()).waiters.fetch_sub(1);
                                  // The lock is taken back whatever happened, as the
                                  // blocking wait does: the caller held it before.
                                  detail::async_attempt_until(
                                      self.lock_.released_word(), [self]() mutable { return self.lock_.try_lock(); },
                                      executor,
                                      detail::make_then_handler(
                                          boost::asio::bind_cancellation_slot(boost::asio::cancellation_slot(),
                                                                              std::move(finish)),
                                          [failure](auto finished, std::exception_ptr lock_failure) mutable {
                                            std::move(finished)(failure ? failure : lock_failure);
                                          }),
                                      "the wait for the lock was cancelled");
                                }),
      "the wait for a notification was cancelled (the lock is held again)");
}

void condition::notify(std::size_t n) { give_permits(detail::as<detail::condition_state>(state()), n); }

void condition::notify_all() { give_permits(detail::as<detail::condition_state>(state()), UINT32_MAX); }

// ---- barrier ----

barrier::barrier(std::size_t parties, std::optional<std::chrono::nanoseconds> timeout)
    : sync_object(detail::barrier_kind, [](void* state, const std::int64_t* settings) {
        auto& s = *new (state) detail::barrier_state{};
        detail::init_mutex(s.mutex, detail::lock_type::normal);
        s.parties = static_cast<std::uint64_t>(settings[0]);
        s.default_timeout_ns = settings[1];
      }, static_cast<std::int64_t>(parties), timeout ? timeout->count() : -1) {
  if (parties == 0) throw error("a barrier needs at least one party");
}

std::size_t barrier::wait() { return wait_within(std::nullopt); }

namespace {

[[noreturn]] void throw_broken() { throw broken_barrier_error("the barrier is broken"); }

// Waiting a little before sleeping catches the common case, where the last
// party is a few microseconds away, for the price of a memory read instead of
// a cross-CPU wake-up (tens of microseconds here). First a short spin, then
// yields: a party that shares our CPU gets to run (spinning alone made a
// same-CPU pass cost 115 us), and one on another CPU costs a cheap syscall.
bool generation_passed_soon(const detail::barrier_state& s, std::uint64_t generation) {
  auto passed = [&] { return s.generation.load(std::memory_order_acquire) != generation || s.broken.load(); };
  for (int i = 0; i < 256; ++i) {
    if (passed()) return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  for (int i = 0; i < 64; ++i) {
    if (passed()) return true;
    std::this_thread::yield();
  }
  return passed();
}

}  // namespace

std::size_t barrier::wait_within(std::optional<detail::nanoseconds> timeout) {
  auto& s = detail::as<detail::barrier_state>(state());
  if (!timeout && s.default_timeout_ns >= 0) timeout = detail::nanoseconds(s.default_timeout_ns);
  std::uint64_t generation;
  std::size_t index;
  {
    detail::lock_mutex(s.mutex);
    detail::unlocking unlock(s.mutex);
    if (s.broken.load()) throw_broken();
    generation = s.generation.load();
    index = static_cast<std::size_t>(s.count++);
    if (s.count == s.parties) {
      s.count = 0;
      s.generation.store(generation + 1, std::memory_order_release);
      detail::wake_all(s.changes);
      return index;
    }
  }
  auto passed = [&] { return s.generation.load() != generation || s.broken.load() != 0; };
  if (!generation_passed_soon(s, generation) && !detail::sleep_until(s.changes, detail::deadline_of(timeout), passed)) {
    detail::lock_mutex(s.mutex);
    detail::unlocking unlock(s.mutex);
    if (!passed()) {  // a timeout breaks the barrier for all
      s.broken.store(1);
      detail::wake_all(s.changes);
      throw broken_barrier_error("the barrier timed out waiting for its parties");
    }
  }
  if (s.generation.load() == generation || generation < s.broken_before.load()) throw_broken();
  return index;
}

detail::barrier_arrival barrier::arrive() {
  auto& s = detail::as<detail::barrier_state>(state());
  detail::barrier_arrival arrival;
  if (s.default_timeout_ns >= 0) {
    arrival.deadline = std::chrono::steady_clock::now() + detail::nanoseconds(s.default_timeout_ns);
  }
  detail::lock_mutex(s.mutex);
  detail::unlocking unlock(s.mutex);
  if (s.broken.load()) throw_broken();
  arrival.generation = s.generation.load();
  arrival.index = static_cast<std::size_t>(s.count++);
  if (s.count == s.parties) {
    s.count = 0;
    s.generation.store(arrival.generation + 1, std::memory_order_release);
    detail::wake_all(s.changes);
    arrival.tripped = true;
  }
  return arrival;
}

bool barrier::passed(const detail::barrier_arrival& arrival) {
  if (arrival.tripped) return true;
  auto& s = detail::as<detail::barrier_state>(state());
  auto moved_on = [&] { return s.generation.load() != arrival.generation || s.broken.load() != 0; };
  if (!moved_on()) {
    if (!arrival.deadline || std::chrono::steady_clock::now() < *arrival.deadline) return false;
    detail::lock_mutex(s.mutex);
    detail::unlocking unlock(s.mutex);
    if (!moved_on()) {  // a timeout breaks the barrier for all, as in wait()
      s.broken.store(1);
      detail::wake_all(s.changes);
      throw broken_barrier_error("the barrier timed out waiting for its parties");
    }
  }
  if (s.generation.load() == arrival.generation || arrival.generation < s.broken_before.load()) throw_broken();
  return true;
}

bool barrier::leave(const detail::barrier_arrival& arrival) {
  if (arrival.tripped) return false;
  auto& s = detail::as<detail::barrier_state>(state());
  detail::lock_mutex(s.mutex);
  detail::unlocking unlock(s.mutex);
  if (s.generation.load() != arrival.generation || s.broken.load() != 0) return false;
  --s.count;
  return true;
}

detail::wake_word& barrier::changes_word() const { return detail::as<detail::barrier_state>(state()).changes; }

void barrier::abort() {
  auto& s = detail::as<detail::barrier_state>(state());
  detail::lock_mutex(s.mutex);
  detail::unlocking unlock(s.mutex);
  s.broken.store(1);
  detail::wake_all(s.changes);
}

void barrier::reset() {
  auto& s = detail::as<detail::barrier_state>(state());
  detail::lock_mutex(s.mutex);
  detail::unlocking unlock(s.mutex);
  const std::uint64_t generation = s.generation.load();
  if (s.count > 0) s.broken_before.store(generation + 1);  // those waiting now: broken
  s.count = 0;
  s.broken.store(0);
  s.generation.store(generation + 1, std::memory_order_release);
  detail::wake_all(s.changes);
}

bool barrier::broken() const { return detail::as<detail::barrier_state>(state()).broken.load() != 0; }

std::size_t barrier::parties() const {
  return static_cast<std::size_t>(detail::as<detail::barrier_state>(state()).parties);
}

std::size_t barrier::n_waiting() const {
  auto& s = detail::as<detail::barrier_state>(state());
  detail::lock_mutex(s.mutex);
  detail::unlocking unlock(s.mutex);
  return static_cast<std::size_t>(s.count);
}

}  // namespace mproc
