// A request as the forkserver reads it from its control socket: a status
// socket (SCM_RIGHTS), a framed start payload, then the child's descriptors.
// Apart from forkserver.cpp so that the fuzz target can feed it bytes.
#pragma once

#include "../payload.hpp"
#include "file_descriptor.hpp"

#include <optional>
#include <string>
#include <vector>

namespace mproc::detail {

struct forkserver_request {
  posix::unique_fd status;  // where the child's pid, then its end, are answered
  child_payload payload;
  std::vector<int> handles;  // the child's, owned by the request's reader
  std::string refused;       // why the payload did not decode; empty if it did
};

/// Nothing when the client has gone. Throws mproc::error (serialization_error,
/// eof_error) for a stream that cannot be read further.
std::optional<forkserver_request> read_forkserver_request(int control);

}  // namespace mproc::detail
