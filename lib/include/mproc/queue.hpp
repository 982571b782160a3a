// Queues: Python's Queue and JoinableQueue, for any number of producer and
// consumer processes.
//
//   mproc::queue<int> items;                      // or queue<int>(maxsize)
//   mproc::process producer(produce, items);      // the child puts into the same queue
//   producer.start();
//   int first = items.get();                      // waits
//   int next = items.get(std::chrono::seconds(1));   // queue_empty after 1 s
//
// put() is synchronous: when it returns, the item is in the queue (there is no
// feeder thread that could lose it at exit, as Python's has). Items are
// anything a process argument can be, of any size: an item larger than the
// queue's ring of bytes streams through it while a consumer reads.
//
// The bound: maxsize items if given; with maxsize 0 the ring alone bounds the
// queue (4 MiB by default: about 260,000 small items). put() waits for room;
// put(timeout) throws queue_full.
//
// close(), as in Python, says that this process (this queue object and its
// copies here) is done with the queue: put() and get() then throw closed_error
// here; other processes go on. shutdown() (Python 3.13's Queue.shutdown) ends
// the queue for every process: put() throws closed_error at once, get()
// returns the items still queued and then throws closed_error instead of
// waiting. That is how consumers learn that no more items come.
//
// Dead peers: a producer that dies in the middle of an item leaves nothing
// behind (its partial item is discarded); a consumer that dies after taking an
// item takes it with it. A consumer waiting for producers that all died waits
// forever unless it gives a timeout; keep the producers' process objects and
// check is_alive()/exitcode() between get(timeout) calls to tell.
#pragma once

#include <mproc/detail/asio_waits.hpp>
#include <mproc/detail/timeout.hpp>
#include <mproc/detail/archive.hpp>
#include <mproc/error.hpp>
#include <mproc/shared_memory.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace mproc {

namespace detail {

/// The untyped queue behind queue<T>: messages of bytes in a ring inside a
/// shared memory block.
class byte_queue {
 public:
  byte_queue() = default;  // a placeholder, for loading
  byte_queue(std::size_t maxsize, std::size_t ring_bytes);

  /// False if `timeout` ran out before the message was in. Errors: closed_error.
  bool put(std::string_view message, std::optional<std::chrono::nanoseconds> timeout);
  /// The next message, or nullopt if `timeout` ran out. Errors: closed_error
  /// once closed and empty.
  std::optional<std::string_view> get(std::optional<std::chrono::nanoseconds> timeout);

  /// The words a waiter for data, or for room, sleeps on (asynchronous waits).
  wake_word& data_changes() const;
  wake_word& room_changes() const;

  bool empty() const;
  std::size_t size() const;
  std::size_t maxsize() const;
  void close();
  bool closed() const;

  void task_done();
  bool join(std::optional<std::chrono::nanoseconds> timeout);

  /// See detail::set_inherited_by_fork.
  void set_inherited_by_fork(bool inherited) { detail::set_inherited_by_fork(block_, inherited); }

  /// For fuzz/fuzz_queue_records.cpp only: the ring holds `records` as if
  /// producers had put them (at most the ring's size), nothing taken yet.
  void load_ring_for_fuzzing(std::string_view records);

  template <class Archive>
  void save(Archive& archive) const {
    archive(block_);
  }
  template <class Archive>
  void load(Archive& archive) {
    archive(block_);
    bind_loaded_block();
  }

  struct header;  // in shared memory; defined by the implementation

 private:
  header& shared() const;
  void bind_loaded_block();
  void commit_ring(std::uint64_t end);
  bool put_in_turn(std::string_view message, std::optional<std::chrono::steady_clock::time_point> deadline);
  std::optional<std::string_view> get_in_turn(std::optional<std::chrono::steady_clock::time_point> deadline);
  shared_memory block_;
  header* header_ = nullptr;  // set when made or loaded, never later: threads share the object
  // Positions seen last time, under the put or get lock. They only grow, so
  // an old value is a safe lower bound: a producer re-reads the consumers'
  // position only when the ring looks full, a consumer the producers' only
  // when it looks empty. That keeps each side off the other's cache line.
  std::uint64_t known_read_pos_ = 0;
  std::uint64_t known_write_pos_ = 0;
};

/// The bytes of `item`, in a buffer of this thread's that put() reuses.
template <class T>
std::string_view encode_item(const T& item) {
  if constexpr (plain_item<T>) {
    return {reinterpret_cast<const char*>(&item), sizeof item};
  }
  thread_local std::string bytes;
  if (bytes.capacity() > (std::size_t{16} << 20)) bytes = std::string();  // a huge item's memory goes back
  bytes.clear();
  try {
    append_bytes(bytes, item);
  } catch (const std::exception& e) {
    throw serialization_error(std::string("the item cannot be put in the queue: ") + e.what());
  }
  return bytes;
}

template <class T>
T decode_item(std::string_view bytes) {
  if constexpr (plain_item<T>) {
    if (bytes.size() != sizeof(T)) {
      throw serialization_error("the item taken from the queue is not of the queue's type: " +
                                std::to_string(bytes.size()) + " bytes instead of " + std::to_string(sizeof(T)));
    }
    T item;
    std::memcpy(&item, bytes.data(), sizeof item);
    return item;
  }
  try {
    return from_bytes<T>(bytes);
  } catch (const std::exception& e) {
    throw serialization_error(std::string("the item taken from the queue is not of the queue's type: ") + e.what());
  }
}

template <class Rep, class Period>
std::chrono::nanoseconds timeout_of(std::chrono::duration<Rep, Period> timeout) {
  return detail::saturated(timeout);
}

}  // namespace detail

/// Python's multiprocessing.Queue: multi-producer, multi-consumer, FIFO for
/// the items of each producer.
template <class T>
class queue {
 public:
  static constexpr std::size_t default_ring_bytes = std::size_t{4} << 20;

  /// `maxsize` items at most (0: as many as the ring holds). `ring_bytes` is
  /// the shared memory the items pass through (at least 4 KiB).
  explicit queue(std::size_t maxsize = 0, std::size_t ring_bytes = default_ring_bytes)
      : items_(maxsize, ring_bytes) {}

  /// Puts `item`, waiting for room. Errors: closed_error after close() here or
  /// shutdown() anywhere; serialization_error if the item cannot be encoded (the
  /// queue is not touched then).
  void put(const T& item) {
    check_open();
    items_.put(detail::encode_item(item), std::nullopt);
  }
  /// Errors: queue_full if there was no room within `timeout`, and those of put().
  template <class Rep, class Period>
  void put(const T& item, std::chrono::duration<Rep, Period> timeout) {
    check_open();
    if (!items_.put(detail::encode_item(item), detail::timeout_of(timeout))) {
      throw queue_full("the queue stayed full for the whole timeout of put()");
    }
  }

  /// Takes the next item, waiting for one. Errors: closed_error after close()
  /// here, or once the queue is shut down and empty; serialization_error if
  /// the item is not a T.
  T get() {
    check_open();
    return detail::decode_item<T>(*items_.get(std::nullopt));
  }
  /// Errors: queue_empty if no item came within `timeout`, and those of get().
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    check_open();
    const auto bytes = items_.get(detail::timeout_of(timeout));
    if (!bytes) throw queue_empty("no item came within the timeout of get()");
    return detail::decode_item<T>(*bytes);
  }
  /// The next item if one is there now.
  std::optional<T> try_get() {
    check_open();
    const auto bytes = items_.get(std::chrono::nanoseconds{0});
    if (!bytes) return std::nullopt;
    return detail::decode_item<T>(*bytes);
  }

  /// Takes the next item without blocking a thread (Asio): `token` (a
  /// callback, asio::use_awaitable, use_future, deferred, ...) completes on
  /// `where` (an executor or io_context) with `(std::exception_ptr, T)`: the
  /// item, or the error get() would throw. A cancelled wait has taken no item.
  template <class ExecutorOrContext, class Token>
  auto async_get(ExecutorOrContext&& where, Token&& token) {
    return initiate_get(detail::executor_of(where), std::forward<Token>(token));
  }
  /// The same for asio::use_awaitable, where an item that is there now is
  /// returned at once, without a round trip through the executor (a third of
  /// the time). As with Asio's own I/O objects, this handle must outlive the
  /// awaitable until it is awaited (`co_await q.async_get(...)` does): the
  /// coroutine holds no copy, whose shared counts cost more than the item.
  template <class ExecutorOrContext>
  boost::asio::awaitable<T> async_get(ExecutorOrContext&& where, const boost::asio::use_awaitable_t<>&) {
    return get_now_or_await(this, detail::plain_executor_of(where));
  }
  /// Puts `item` without blocking a thread, once there is room: `token`
  /// completes on `where` with `(std::exception_ptr)`: null, or the error
  /// put() would throw. A cancelled wait has put nothing.
  template <class ExecutorOrContext, class Token>
  auto async_put(ExecutorOrContext&& where, const T& item, Token&& token) {
    return detail::async_attempt(
        detail::executor_of(where), items_.room_changes(),
        [self = *this, bytes = std::string(detail::encode_item(item))]() mutable {  // the encoding is in a reused buffer
          self.check_open();
          return self.items_.put(bytes, std::chrono::nanoseconds{0});
        },
        "the wait for room in a queue was cancelled", std::forward<Token>(token));
  }

  /// As Python's: true when no item is waiting now (others may change that).
  bool empty() const { return items_.empty(); }
  /// The number of items waiting, approximately (as Python's qsize()).
  std::size_t size() const { return items_.size(); }
  /// As Python's: true when maxsize items are waiting now (never with maxsize 0).
  bool full() const { return items_.maxsize() != 0 && items_.size() >= items_.maxsize(); }
  /// The bound given at construction (0: the ring's bytes only).
  std::size_t maxsize() const { return items_.maxsize(); }
  /// This process puts and gets no more (Python's close()); the queue goes on
  /// for the others. Idempotent.
  void close() noexcept { closed_here_->store(true); }
  /// Ends the queue for every process (see the top of this header).
  void shutdown() { items_.close(); }
  /// True after close() in this process or shutdown() in any.
  bool closed() const { return closed_here_->load() || items_.closed(); }
  /// True after shutdown() in any process.
  bool is_shutdown() const { return items_.closed(); }

  template <class Archive>
  void save(Archive& archive) const {
    archive(items_);
  }
  template <class Archive>
  void load(Archive& archive) {
    archive(items_);
    closed_here_ = std::make_shared<std::atomic<bool>>(false);  // a copy in a new process starts open
  }

 protected:
  void check_open() const {
    if (closed_here_->load()) throw closed_error("this process closed the queue (close()); it puts and gets no more");
  }

  detail::byte_queue items_;
  std::shared_ptr<std::atomic<bool>> closed_here_ = std::make_shared<std::atomic<bool>>(false);

 private:
  template <class Executor>
  static boost::asio::awaitable<T> get_now_or_await(queue* self, Executor where) {
    std::optional<T> now;
    try {
      now = self->try_get();
    } catch (...) {  // the waiting path's to report
    }
    if (now) co_return std::move(*now);
    co_return co_await self->initiate_get(detail::async_executor(std::move(where)), boost::asio::use_awaitable);
  }

  template <class Token>
  auto initiate_get(detail::async_executor executor, Token&& token) {
    static_assert(std::is_default_constructible_v<T>,
                  "mproc: async_get() needs a default-constructible item type (it completes with one on error)");
    return boost::asio::async_initiate<Token, void(std::exception_ptr, T)>(
        [self = *this](auto handler, detail::async_executor executor) mutable {
          // An item there now is taken here and posted with the handler, in
          // one allocation (a busy queue's usual case); an error here is the
          // slow path's to report.
          std::optional<T> now;
          try {
            now = self.try_get();
          } catch (...) {
          }
          if (now) {
            boost::asio::post(executor, boost::asio::append(std::move(handler), std::exception_ptr(), std::move(*now)));
            return;
          }
          auto got = std::make_shared<std::optional<T>>();
          detail::wake_word& changes = self.items_.data_changes();
          detail::async_attempt_until(
              changes,
              [self, got]() mutable {
                *got = self.try_get();
                return got->has_value();
              },
              std::move(executor),
              detail::make_then_handler(std::move(handler),
                                        [got](auto done, std::exception_ptr failure) mutable {
                                          T item{};
                                          if (!failure) item = std::move(**got);
                                          std::move(done)(failure, std::move(item));
                                        }),
              "the wait for a queue item was cancelled");
        },
        token, std::move(executor));
  }
};

/// Python's JoinableQueue: a queue that counts unfinished items.
template <class T>
class joinable_queue : public queue<T> {
 public:
  using queue<T>::queue;

  /// Marks one item taken with get() as processed. Errors: mproc::error when
  /// called more times than items were put.
  void task_done() { this->items_.task_done(); }
  /// Waits until every item put has been marked done.
  void join() { this->items_.join(std::nullopt); }
  /// The same, at most `timeout`; false if items were still unfinished.
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return this->items_.join(detail::timeout_of(timeout));
  }
};

}  // namespace mproc
