// Exceptions thrown by mproc. Every error is an mproc::error (a std::runtime_error),
// so one catch clause covers them all; the subclasses say what went wrong.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

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

/// A pool task threw: the exception's type name and message, from the worker.
class remote_error : public error {
 public:
  remote_error(std::string type, const std::string& message)
      : error(type + ": " + message), type_(std::move(type)) {}
  /// The type of the exception the task threw, as C++ names it.
  const std::string& type() const noexcept { return type_; }

 private:
  std::string type_;
};

/// The pool worker running a task died before the task finished.
class worker_lost_error : public error {
 public:
  worker_lost_error(int pid, int exit_code, const std::string& message)
      : error(message), pid_(pid), exit_code_(exit_code) {}
  int pid() const noexcept { return pid_; }
  /// As process::exitcode(): the exit status, or -N for signal N.
  int exit_code() const noexcept { return exit_code_; }

 private:
  int pid_;
  int exit_code_;
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
