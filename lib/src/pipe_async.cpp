// connection::async_recv / async_send: composed Asio operations over the
// platform's connection_io (read or write what can be done now, else await
// readiness). Received bytes go straight into the connection's message being
// received, so a cancelled receive loses nothing: the next receive goes on.
#include <mproc/pipe.hpp>

#include "connection_io.hpp"
#include "connection_state.hpp"
#include "failed_operation.hpp"

#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>

namespace mproc {
namespace {

using boost::asio::cancellation_type;

// Every operation starts with a post: completing inside the initiating call
// is not allowed, and most of the time the bytes are there at once.
enum class step { starting, posted, waited };

// True if the wait was cancelled (or its reactor failed it).
template <class Self>
bool stopped(const boost::system::error_code& ec, Self& self) {
  return ec || self.cancelled() != cancellation_type::none;
}

void check_open(const detail::connection_state& state) {
  if (state.handle < 0) throw closed_error("the connection is closed");
}

// The first step of each: cancellable by any type, and posted. True if it was
// that step (`self` is gone).
template <class Self>
bool posted_first(step& at, Self& self) {
  if (at != step::starting) return false;
  at = step::posted;
  self.reset_cancellation_state(boost::asio::enable_total_cancellation());
  boost::asio::post(self.get_io_executor(), std::move(self));
  return true;
}

// What both operations do at each step: the posted first one, then a check
// for a cancellation and a closed end, then the operation's own `go_on`, which
// completes it or awaits readiness; what it throws completes it.
template <class Operation>
struct connection_operation {
  std::shared_ptr<detail::connection_state> state;
  std::shared_ptr<detail::connection_io> io;
  step at = step::starting;

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec = {}) {
    if (posted_first(at, self)) return;
    auto& operation = static_cast<Operation&>(*this);
    try {
      if (stopped(ec, self)) return operation.finish(self, detail::cancelled_wait(Operation::cancelled_text));
      check_open(*state);
      operation.go_on(self);
    } catch (...) {
      operation.finish(self, std::current_exception());
    }
  }
};

struct recv_operation : connection_operation<recv_operation> {
  static constexpr const char* cancelled_text = "the receive on a connection was cancelled";

  template <class Self>
  void go_on(Self& self) {
    for (;;) {
      const detail::message_room room = detail::room_for_more(*state);
      if (room.empty()) return finish(self, nullptr, *detail::take_message(*state));
      const std::optional<std::size_t> got = io->read_now(room.data(), room.size());
      if (!got) {
        at = step::waited;
        return io->async_wait_readable(std::move(self));
      }
      detail::keep_received(*state, room, *got);
    }
  }

  template <class Self>
  void finish(Self& self, std::exception_ptr failure, std::string message = {}) {
    io.reset();
    self.complete(failure, std::move(message));
  }
};

struct send_operation : connection_operation<send_operation> {
  static constexpr const char* cancelled_text = "the send on a connection was cancelled; nothing was sent";
  std::string frame;
  std::size_t done = 0;

  template <class Self>
  void go_on(Self& self) {
    done += io->write_now(frame.data() + done, frame.size() - done);
    if (done == frame.size()) return finish(self, nullptr);
    if (done > 0 || io->write_under_way()) {
      // Part of the message is on its way: it goes whole, or the stream
      // would lose its place.
      self.reset_cancellation_state([](cancellation_type) { return cancellation_type::none; });
    }
    at = step::waited;
    io->async_wait_writable(std::move(self));
  }

  template <class Self>
  void finish(Self& self, std::exception_ptr failure) {
    io.reset();
    self.complete(failure);
  }
};

}  // namespace

void connection::start_async_recv(detail::async_executor executor, detail::async_handler<std::string> done) {
  using signature = void(std::exception_ptr, std::string);
  std::shared_ptr<detail::connection_io> io;
  try {
    if (!state_) throw closed_error("the connection is closed");
    check_open(*state_);
    check_receivable(*state_);
    io = std::make_shared<detail::connection_io>(executor, state_->handle);
  } catch (...) {
    boost::asio::async_compose<detail::async_handler<std::string>, signature>(
        detail::failed_operation<std::string>{std::current_exception()}, done, executor);
    return;
  }
  boost::asio::async_compose<detail::async_handler<std::string>, signature>(recv_operation{{state_, std::move(io)}},
                                                                             done, executor);
}

void connection::start_async_send(detail::async_executor executor, std::string bytes, detail::async_handler<> done) {
  using signature = void(std::exception_ptr);
  std::shared_ptr<detail::connection_io> io;
  try {
    if (!state_) throw closed_error("the connection is closed");
    check_open(*state_);
    if (!state_->can_write) throw error("this end of the pipe can only receive");
    io = std::make_shared<detail::connection_io>(executor, state_->handle);
  } catch (...) {
    boost::asio::async_compose<detail::async_handler<>, signature>(detail::failed_operation<>{std::current_exception()},
                                                                    done, executor);
    return;
  }
  std::string frame = detail::frame_head(bytes.size()) + bytes;
  boost::asio::async_compose<detail::async_handler<>, signature>(
      send_operation{{state_, std::move(io)}, std::move(frame)}, done, executor);
}

}  // namespace mproc
