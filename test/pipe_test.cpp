// Pipes and connections: messages, boundaries, directions, end of file, size,
// timeouts, corrupt bytes, and ends passed to children under every start method.
#include "support/scratch.hpp"

#include <mproc/pipe.hpp>
#include <mproc/process.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <map>
#include <thread>


using namespace std::chrono_literals;

using mproc::test::with;

namespace {

void send_three_and_return(mproc::connection out) {
  for (int i = 0; i < 3; ++i) out.send(i);
}

// `other` is the parent's end, which a forked child inherits: it must close its
// copy to ever see end of file (under spawn the copy is only the argument).
void echo_until_end(mproc::connection end, mproc::connection other) {
  other.close();
  try {
    for (;;) end.send_bytes(end.recv_bytes());
  } catch (const mproc::eof_error&) {
  }
}

void square_into(mproc::connection in, mproc::connection out, mproc::connection in_send,
                 mproc::connection out_receive) {
  in_send.close();  // ends this process must not hold, as in the classic demo
  out_receive.close();
  try {
    for (;;) {
      const int x = in.recv<int>();
      out.send(x * x);
    }
  } catch (const mproc::eof_error&) {
  }
}

std::vector<std::byte> bytes_of_size(std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>((i * 131) ^ (i >> 12));
  return bytes;
}

bool says(const std::exception& e, const std::string& words) {
  return std::string(e.what()).find(words) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(messages)

BOOST_AUTO_TEST_CASE(values_round_trip_with_boundaries_kept) {
  auto [a, b] = mproc::pipe();
  a.send(std::string("first"));
  a.send(std::map<std::string, int>{{"x", 1}});
  a.send(std::string());
  a.send_bytes({});
  b.send(3.5);
  BOOST_TEST(b.recv<std::string>() == "first");
  BOOST_TEST((b.recv<std::map<std::string, int>>() == std::map<std::string, int>{{"x", 1}}));
  BOOST_TEST(b.recv<std::string>().empty());       // an empty message is a message
  BOOST_TEST(b.recv_bytes().empty());
  BOOST_TEST(a.recv<double>() == 3.5);             // duplex: both ends send
  BOOST_TEST(!b.poll());
}

BOOST_AUTO_TEST_CASE(simplex_pipe_gives_receive_end_then_send_end) {
  auto [receive_end, send_end] = mproc::pipe(false);
  BOOST_TEST(receive_end.readable());
  BOOST_TEST(!receive_end.writable());
  BOOST_TEST(send_end.writable());
  BOOST_TEST(!send_end.readable());
  send_end.send(7);
  BOOST_TEST(receive_end.recv<int>() == 7);
  BOOST_CHECK_EXCEPTION(receive_end.send(1), mproc::error,
                        [](const mproc::error& e) { return says(e, "can only receive"); });
  BOOST_CHECK_EXCEPTION(send_end.recv<int>(), mproc::error,
                        [](const mproc::error& e) { return says(e, "can only send"); });
}

BOOST_AUTO_TEST_CASE(closed_end_and_closed_peer) {
  auto [a, b] = mproc::pipe();
  auto copy = a;  // copies are the same end
  copy.close();
  BOOST_TEST(a.closed());
  BOOST_CHECK_THROW(a.send(1), mproc::closed_error);
  BOOST_CHECK_THROW(b.send(1), mproc::eof_error);  // nobody can receive it
  BOOST_CHECK_THROW(b.recv<int>(), mproc::eof_error);
  BOOST_TEST(b.poll());  // end of file: recv() would not block
  mproc::connection unconnected;
  BOOST_CHECK_THROW(unconnected.recv<int>(), mproc::closed_error);
}

BOOST_AUTO_TEST_CASE(poll_waits_at_least_its_timeout) {
  auto [a, b] = mproc::pipe();
  const auto begin = std::chrono::steady_clock::now();
  BOOST_TEST(!b.poll(150ms));
  BOOST_TEST((std::chrono::steady_clock::now() - begin >= 150ms));
  std::thread sender([&a] {
    std::this_thread::sleep_for(50ms);
    a.send(1);
  });
  BOOST_TEST(b.poll(10s));
  sender.join();
  BOOST_TEST(b.recv<int>() == 1);
}

BOOST_AUTO_TEST_CASE(wrong_type_is_a_serialization_error_and_the_connection_goes_on) {
  auto [a, b] = mproc::pipe();
  a.send(std::uint8_t{1});
  a.send(std::string("next"));
  BOOST_CHECK_THROW(b.recv<std::string>(), mproc::serialization_error);
  BOOST_TEST(b.recv<std::string>() == "next");
}

BOOST_AUTO_TEST_CASE(corrupt_bytes_are_a_serialization_error) {
  auto [a, b] = mproc::pipe();
  const char garbage[] = "this is not a message frame at all";
  BOOST_REQUIRE(mproc::test::write_raw(a.native_handle(), garbage, sizeof garbage));
  BOOST_CHECK_EXCEPTION(b.recv_bytes(), mproc::serialization_error,
                        [](const mproc::serialization_error& e) { return says(e, "corrupt bytes"); });
  BOOST_CHECK_EXCEPTION(b.recv_bytes(), mproc::serialization_error,
                        [](const mproc::serialization_error& e) { return says(e, "lost its place"); });
}

BOOST_AUTO_TEST_CASE(cut_message_is_an_eof_error) {
  auto [a, b] = mproc::pipe();
  const std::uint32_t magic = 0x4d50524bu;
  const std::uint64_t size = 1000;
  BOOST_REQUIRE(mproc::test::write_raw(a.native_handle(), &magic, sizeof magic));
  BOOST_REQUIRE(mproc::test::write_raw(a.native_handle(), &size, sizeof size));
  BOOST_REQUIRE(mproc::test::write_raw(a.native_handle(), "only a little", 13));
  a.close();
  BOOST_CHECK_EXCEPTION(b.recv_bytes(), mproc::eof_error,
                        [](const mproc::eof_error& e) { return says(e, "in the middle of a message"); });
}

BOOST_AUTO_TEST_CASE(connection_cannot_travel_inside_a_message) {
  auto [a, b] = mproc::pipe();
  auto [c, d] = mproc::pipe();
  BOOST_CHECK_EXCEPTION(a.send(c), mproc::serialization_error,
                        [](const mproc::serialization_error& e) { return says(e, "only as an argument"); });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(between_processes)

MPROC_TEST_EACH_METHOD(end_of_file_once_every_copy_is_closed) {
  auto [receive_end, send_end] = mproc::pipe(false);
  mproc::process p(with(method), send_three_and_return, send_end);
  p.start();
  send_end.close();  // our copy: now only the child's keeps the pipe open
  std::vector<int> got;
  BOOST_CHECK_THROW(
      for (;;) got.push_back(receive_end.recv<int>()), mproc::eof_error);
  BOOST_TEST((got == std::vector<int>{0, 1, 2}));
  p.join();
  BOOST_TEST(p.exitcode().value() == 0);
}

MPROC_TEST_EACH_METHOD(pipeline_of_two_children_squares_and_ends) {
  auto [in_receive, in_send] = mproc::pipe(false);
  auto [out_receive, out_send] = mproc::pipe(false);
  mproc::process squarer(with(method), square_into, in_receive, out_send, in_send, out_receive);
  squarer.start();
  in_receive.close();
  out_send.close();
  for (int i = 0; i < 10; ++i) in_send.send(i);
  in_send.close();
  std::vector<int> squares;
  BOOST_CHECK_THROW(for (;;) squares.push_back(out_receive.recv<int>()), mproc::eof_error);
  BOOST_TEST((squares == std::vector<int>{0, 1, 4, 9, 16, 25, 36, 49, 64, 81}));
  squarer.join();
}

MPROC_TEST_EACH_METHOD(sixteen_and_sixty_four_mib_round_trips) {
  auto [ours, theirs] = mproc::pipe();
  mproc::process echo(with(method), echo_until_end, theirs, ours);
  echo.start();
  theirs.close();
  for (std::size_t size : {std::size_t{16} << 20, std::size_t{64} << 20}) {
    const auto sent = bytes_of_size(size);
    std::thread sender([&] { ours.send_bytes(sent); });  // both ways at once: no deadlock
    const auto back = ours.recv_bytes();
    sender.join();
    BOOST_TEST(back.size() == size);
    BOOST_TEST((back == sent));
  }
  ours.close();
  echo.join();
  BOOST_TEST(echo.exitcode().value() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
