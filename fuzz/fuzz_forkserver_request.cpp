// A forkserver request, as the server reads it from its control socket: the
// status socket (a real descriptor, sent first), then the fuzzed bytes (the
// framed start payload and the descriptor count), then the end of the stream.
#include "posix/file_descriptor.hpp"
#include "posix/forkserver_request.hpp"

#include <mproc/error.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace posix = mproc::detail::posix;
  auto [client, server] = posix::socket_pair();
  {
    posix::unique_fd status(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!posix::send_fd(client.get(), status.get())) __builtin_trap();
  }
  // A socket holds more than the longest input (-max_len=65536): no blocking.
  if (!posix::write_all(client.get(), std::string_view(reinterpret_cast<const char*>(data), size))) __builtin_trap();
  ::shutdown(client.get(), SHUT_WR);
  try {
    auto request = mproc::detail::read_forkserver_request(server.get());
    if (!request || !request->status) __builtin_trap();  // a descriptor was sent
    for (int fd : request->handles) ::close(fd);
  } catch (const mproc::error&) {
  }
  return 0;
}
