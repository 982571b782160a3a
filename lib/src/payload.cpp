#include "payload.hpp"

#include <mproc/error.hpp>

#include <sstream>

namespace mproc::detail {

std::string encode_payload(const child_payload& payload) {
  std::ostringstream bytes;
  {
    output_archive out(bytes);
    out(payload);
  }
  return std::move(bytes).str();
}

child_payload decode_payload(std::string_view bytes) {
  input_archive in(bytes);
  child_payload payload;
  try {
    in(payload);
  } catch (const std::exception& e) {  // cereal::Exception, or bad_alloc from a corrupt length
    throw serialization_error(std::string("the child's start message is corrupt: ") + e.what());
  }
  return payload;
}

}  // namespace mproc::detail
