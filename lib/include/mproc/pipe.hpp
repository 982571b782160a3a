// Pipes: two connected ends that carry whole messages between processes.
//
//   auto [parent_end, child_end] = mproc::pipe();
//   mproc::process p(worker, child_end);   // the child gets its own copy of the end
//   p.start();
//   parent_end.send(std::vector<int>{1, 2, 3});
//   auto reply = parent_end.recv<std::string>();
//
// A message is one value (anything a process argument can be) or a run of
// bytes; boundaries are kept and there is no size limit. recv() throws
// eof_error once every copy of the other end, in every process, is closed.
#pragma once

#include <mproc/detail/timeout.hpp>
#include <mproc/detail/archive.hpp>
#include <mproc/detail/asio_waits.hpp>
#include <mproc/detail/handles.hpp>
#include <mproc/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mproc {

namespace detail {
struct connection_state;
/// Puts `handle` in the outbox of the call being encoded; its index there.
/// Throws serialization_error when no call is being encoded.
std::uint32_t send_handle(native_handle handle, const char* what);
/// Takes the handle at `index` from the inbox of the call being decoded.
native_handle take_handle(std::uint32_t index, const char* what);
}  // namespace detail

/// One end of a pipe. Copies refer to the same end: close() on one closes it
/// for all copies in this process. An end is used by one thread at a time.
class connection {
 public:
  /// An end that is not connected: every use throws closed_error.
  connection() = default;

  /// Sends one value. Errors: closed_error, eof_error (the other end is gone),
  /// mproc::error (a receive-only end).
  template <class T>
  void send(const T& value) {
    using sent = detail::travelling_t<T>;  // a string literal goes as a std::string
    if constexpr (std::is_same_v<sent, T>) {
      send_message(detail::to_tagged_bytes(value));
    } else {
      send_message(detail::to_tagged_bytes(sent(value)));
    }
  }

  /// Waits for and returns one value. Errors: eof_error when the other end is
  /// closed everywhere, serialization_error when the message is not a T (each
  /// message carries its type's tag, and every byte must be used),
  /// closed_error, mproc::error (a send-only end).
  template <class T>
  T recv() {
    return decode<T>(recv_message());
  }

  /// Sends one value without blocking a thread: `token` completes on `where`
  /// (an executor or io_context) with `(std::exception_ptr)`: null, or what
  /// send() would throw. Cancellable until its first byte is written; a
  /// message is then written whole (on Windows, once it has had to wait).
  template <class ExecutorOrContext, class T, class Token>
  auto async_send(ExecutorOrContext&& where, const T& value, Token&& token) {
    using sent = detail::travelling_t<T>;  // a string literal goes as a std::string
    std::string bytes;
    if constexpr (std::is_same_v<sent, T>) {
      bytes = detail::to_tagged_bytes(value);
    } else {
      bytes = detail::to_tagged_bytes(sent(value));
    }
    return boost::asio::async_initiate<Token, void(std::exception_ptr)>(
        [self = *this](auto handler, detail::async_executor executor, std::string message) mutable {
          self.start_async_send(std::move(executor), std::move(message), std::move(handler));
        },
        token, detail::executor_of(where), std::move(bytes));
  }

  /// Receives one value without blocking a thread: `token` completes on
  /// `where` with `(std::exception_ptr, T)`: the value, or what recv<T>()
  /// would throw. A cancelled receive takes nothing: what it had read of a
  /// message is where the next receive goes on.
  template <class T, class ExecutorOrContext, class Token>
  auto async_recv(ExecutorOrContext&& where, Token&& token) {
    static_assert(std::is_default_constructible_v<T>,
                  "mproc: async_recv() needs a default-constructible type (it completes with one on error)");
    return boost::asio::async_initiate<Token, void(std::exception_ptr, T)>(
        [self = *this](auto handler, detail::async_executor executor) mutable {
          self.start_async_recv(std::move(executor),
                                detail::make_then_handler(std::move(handler), [](auto done, std::exception_ptr failure,
                                                                                 std::string bytes) mutable {
                                  T value{};
                                  if (!failure) {
                                    try {
                                      value = decode<T>(bytes);
                                    } catch (...) {
                                      failure = std::current_exception();
                                    }
                                  }
                                  std::move(done)(failure, std::move(value));
                                }));
        },
        token, detail::executor_of(where));
  }

  void send_bytes(std::span<const std::byte> bytes);
  std::vector<std::byte> recv_bytes();

  /// True when recv() would not block: a message is waiting, or the other end
  /// is closed. Does not wait.
  bool poll();
  /// The same, waiting at most `timeout` for it.
  template <class Rep, class Period>
  bool poll(std::chrono::duration<Rep, Period> timeout) {
    return poll_for(detail::saturated(timeout));
  }

  /// The descriptor of this end (Python's fileno()), for select/poll loops.
  /// Errors: closed_error.
  detail::native_handle native_handle() const;

  /// Closes this end (in this process). Closing twice does nothing.
  void close() noexcept;
  bool closed() const noexcept;
  bool readable() const noexcept;
  bool writable() const noexcept;

  /// A connection travels to a child as a process argument (cereal).
  template <class Archive>
  void save(Archive& archive) const {
    archive(detail::send_handle(handle_for_transfer(), "a connection"), readable(), writable());
  }
  template <class Archive>
  void load(Archive& archive) {
    std::uint32_t index = 0;
    bool can_read = false;
    bool can_write = false;
    archive(index, can_read, can_write);
    adopt(detail::take_handle(index, "a connection"), can_read, can_write);
  }

 private:
  friend std::pair<connection, connection> pipe(bool duplex);

  template <class T>
  static T decode(const std::string& bytes) {
    try {
      return detail::from_tagged_bytes<T>(bytes);
    } catch (const std::exception& e) {
      throw serialization_error(std::string("the message received is not of the type asked for: ") + e.what());
    }
  }

  void send_message(std::string_view bytes);
  std::string recv_message();
  static void check_receivable(const detail::connection_state& state);
  void start_async_send(detail::async_executor executor, std::string bytes, detail::async_handler<> done);
  void start_async_recv(detail::async_executor executor, detail::async_handler<std::string> done);
  bool poll_for(std::chrono::nanoseconds timeout);
  detail::native_handle handle_for_transfer() const;
  void adopt(detail::native_handle handle, bool can_read, bool can_write);

  std::shared_ptr<detail::connection_state> state_;
};

/// A connected pair of ends. Duplex (the default): both ends send and receive.
/// Not duplex: (receive end, send end), as in Python; using an end the other
/// way throws mproc::error.
std::pair<connection, connection> pipe(bool duplex = true);

}  // namespace mproc
