// Asynchronous receives and sends on a connection's overlapped pipe, without
// a thread: readiness to read is a zero-byte overlapped read (it completes
// when bytes are there and takes none, as CPython's multiprocessing waits on
// Windows), what is there is then read at once; a send is an overlapped write.
// Each completion signals an event of ours, awaited with an object_handle
// (a wait of the system thread pool), so the pipe is never tied to an I/O
// completion port, which would tie it to one io_context for good.
#pragma once

#include <mproc/detail/asio_waits.hpp>
#include <mproc/error.hpp>

#include "../connection_state.hpp"
#include "handle.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/windows/object_handle.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

namespace mproc::detail {

/// True if a pipe call failed because the other end is gone (connection.cpp).
bool peer_gone(unsigned long error);

class connection_io : public std::enable_shared_from_this<connection_io> {
 public:
  connection_io(const async_executor& executor, native_handle handle)
      : pipe_(windows::to_handle(handle)), read_event_(executor), write_event_(executor) {
    read_event_.assign(new_event());
    write_event_.assign(new_event());
  }
  connection_io(const connection_io&) = delete;
  connection_io& operator=(const connection_io&) = delete;
  // The system must be done with an OVERLAPPED before it goes.
  ~connection_io() {
    for (call* each : {&read_, &write_}) {
      if (!each->under_way) continue;
      ::CancelIoEx(pipe_, &each->overlapped);
      DWORD unused = 0;
      ::GetOverlappedResult(pipe_, &each->overlapped, &unused, TRUE);
    }
  }

  /// Bytes read now (0: the other end is closed), or none when nothing is there.
  std::optional<std::size_t> read_now(char* buffer, std::size_t size) {
    if (read_.under_way) {  // the zero-byte read that said bytes are there
      DWORD unused = 0;
      ::GetOverlappedResult(pipe_, &read_.overlapped, &unused, TRUE);
      read_.under_way = false;
    }
    DWORD available = 0;
    if (!::PeekNamedPipe(pipe_, nullptr, 0, nullptr, &available, nullptr)) {
      if (peer_gone(::GetLastError())) return 0;
      windows::throw_last_error("receive on a connection");
    }
    if (available == 0) return std::nullopt;
    return read_some(windows::from_handle(pipe_), buffer, std::min<std::size_t>(size, available));
  }

  /// Bytes written now (0: the write had to wait: write_under_way(), and the
  /// next call with the same bytes gives what it wrote). Errors: eof_error.
  std::size_t write_now(const char* bytes, std::size_t size) {
    DWORD written = 0;
    if (write_.under_way) {
      write_.under_way = false;
      if (::GetOverlappedResult(pipe_, &write_.overlapped, &written, FALSE)) return written;
      if (::GetLastError() == ERROR_IO_INCOMPLETE) {
        write_.under_way = true;
        return 0;
      }
      return write_failed();
    }
    start(write_, write_event_);
    const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(size, 1u << 30));
    if (::WriteFile(pipe_, bytes, chunk, nullptr, &write_.overlapped)) {
      ::GetOverlappedResult(pipe_, &write_.overlapped, &written, FALSE);
      return written;
    }
    if (::GetLastError() != ERROR_IO_PENDING) return write_failed();
    write_.under_way = true;
    return 0;
  }
  bool write_under_way() const noexcept { return write_.under_way; }

  /// Completes `handler(error_code)` when read_now may find something.
  /// Cancelling it cancels the zero-byte read, which took nothing.
  template <class Handler>
  void async_wait_readable(Handler&& handler) {
    start(read_, read_event_);
    if (::ReadFile(pipe_, nullptr, 0, nullptr, &read_.overlapped) || ::GetLastError() == ERROR_IO_PENDING) {
      read_.under_way = true;
    } else {
      ::SetEvent(read_event_.native_handle());  // failed at once (the other end is gone): read_now says so
    }
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      // object_handle has no per-operation cancellation in Boost 1.81.
      slot.assign([weak = weak_from_this()](boost::asio::cancellation_type) {
        if (auto io = weak.lock()) {
          if (io->read_.under_way) ::CancelIoEx(io->pipe_, &io->read_.overlapped);
          io->read_event_.cancel();
        }
      });
    }
    read_event_.async_wait(std::forward<Handler>(handler));
  }

  /// Completes `handler(error_code)` when the write under way has ended; not
  /// cancellable (part of a message may be on its way).
  template <class Handler>
  void async_wait_writable(Handler&& handler) {
    write_event_.async_wait(std::forward<Handler>(handler));
  }

 private:
  struct call {
    OVERLAPPED overlapped{};
    bool under_way = false;
  };

  static HANDLE new_event() {
    HANDLE event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (event == nullptr) windows::throw_last_error("cannot make an event for a pipe");
    return event;
  }
  static void start(call& next, boost::asio::windows::object_handle& event) {
    ::ResetEvent(event.native_handle());
    next.overlapped = OVERLAPPED{};
    next.overlapped.hEvent = event.native_handle();
  }
  [[noreturn]] static std::size_t write_failed() {
    if (peer_gone(::GetLastError())) throw eof_error("the other end of the connection is closed");
    windows::throw_last_error("send on a connection");
  }

  HANDLE pipe_;
  call read_;
  call write_;
  boost::asio::windows::object_handle read_event_;
  boost::asio::windows::object_handle write_event_;
};

}  // namespace mproc::detail
