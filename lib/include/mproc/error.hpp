// Exceptions thrown by mproc. Every error is an mproc::error (a std::runtime_error),
// so one catch clause covers them all; the subclasses say what went wrong.
#pragma once

#include <stdexcept>
#include <string>

namespace mproc {

/// Base of every mproc exception.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A process could not be started, or was used in a way its state forbids
/// (start twice, join before start, set_daemon after start, use after close).
class process_error : public error {
 public:
  using error::error;
};

/// A blocking call with a timeout ran out of time.
class timeout_error : public error {
 public:
  using error::error;
};

/// A value could not be encoded for, or decoded in, another process.
class serialization_error : public error {
 public:
  using error::error;
};

/// The object was closed and cannot be used any more.
class closed_error : public error {
 public:
  using error::error;
};

/// A queue stayed empty for the whole timeout of a get().
class queue_empty : public error {
 public:
  using error::error;
};

/// A queue stayed full for the whole timeout of a put(); the item was not put.
class queue_full : public error {
 public:
  using error::error;
};

/// The other end of a connection is closed: no more data will come.
class eof_error : public error {
 public:
  using error::error;
};

/// A barrier was aborted, reset while a party waited, or broken by a timeout.
class broken_barrier_error : public error {
 public:
  using error::error;
};

/// A named object that should be new already exists.
class exists_error : public error {
 public:
  using error::error;
};

/// A named object that should exist does not (or no longer does).
class not_found_error : public error {
 public:
  using error::error;
};

}  // namespace mproc
