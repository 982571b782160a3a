// A connection fed raw bytes by its peer: frames are read until the end, each
// either a message or serialization_error; never a hang, crash or huge buffer.
#include <mproc/pipe.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 32768) return 0;  // more than a socket buffer would block the writer
  auto [reader, writer] = mproc::pipe(false);
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(writer.native_handle(), data + written, size - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  writer.close();
  for (int i = 0; i < 64; ++i) {
    try {
      if (i % 2 == 0) {
        reader.recv_bytes();
      } else {
        reader.recv<std::string>();
      }
    } catch (const mproc::eof_error&) {
      break;
    } catch (const mproc::error&) {  // a corrupt frame: refused; the connection may go on
    }
  }
  return 0;
}
