// Exceptions thrown by mproc. Every error is an mproc::error (a std::runtime_error),
// so one catch clause covers them all; the subclasses say what went wrong.
#pragma once

#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
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

/// A pool task was cancelled before it started (async_result::cancel()).
class cancelled_error : public error {
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

/// What a pool task threw, in the parent. The exception thrown there is both
/// this and, where the type is known, the type the task threw: a task's
/// std::invalid_argument is caught by `catch (const std::invalid_argument&)`
/// and by `catch (const mproc::remote_error&)` (see remote_exception). Not a
/// std::exception itself, so that `catch (const std::exception&)` still has
/// one base to match; what() is the same as the exception's.
class remote_error {
 public:
  virtual ~remote_error() = default;
  /// The message, as the exception's what() gives it.
  virtual const char* what() const noexcept = 0;
  /// The type of the exception the task threw, as C++ names it.
  const std::string& type() const noexcept { return type_; }
  /// What the task's exception said (its what()).
  const std::string& message() const noexcept { return message_; }
  /// The name and pid of the worker that ran the task (empty and 0 if unknown).
  const std::string& process_name() const noexcept { return process_name_; }
  int pid() const noexcept { return pid_; }

 protected:
  remote_error(std::string type, std::string message, std::string process_name, int pid)
      : type_(std::move(type)), message_(std::move(message)), process_name_(std::move(process_name)), pid_(pid) {}
  remote_error(const remote_error&) = default;
  remote_error& operator=(const remote_error&) = default;

 private:
  std::string type_;
  std::string message_;
  std::string process_name_;
  int pid_ = 0;
};

/// The exception a pool task threw, rethrown in the parent as an E that is
/// also a remote_error. E is the task's own type for the standard exceptions,
/// mproc's errors and the types given to MPROC_REGISTER_EXCEPTION; any other
/// type arrives as remote_exception<mproc::error>, whose what() starts with
/// the type's name.
template <class E>
class remote_exception final : public E, public remote_error {
 public:
  remote_exception(std::string type, std::string message, std::string process_name, int pid)
      : E(made(message)),
        remote_error(std::move(type), std::move(message), std::move(process_name), pid),
        text_(std::is_same_v<E, error> ? this->type() + ": " + this->message() : this->message()) {}
  const char* what() const noexcept override { return text_.c_str(); }

 private:
  static E made(const std::string& message) {
    if constexpr (std::is_constructible_v<E, const std::string&>) {
      return E(message);
    } else {
      return E();
    }
  }
  std::string text_;
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

/// A task that killed its worker pool_options::quarantine_after times in a row
/// is not run again (Dask's allowed-failures).
class quarantined_error : public worker_lost_error {
 public:
  using worker_lost_error::worker_lost_error;
};

/// A pool task passed the pool's memory_limit_per_child: an allocation failed
/// in it, and its worker is replaced.
class memory_limit_error : public error {
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

namespace detail {

using remote_factory = std::exception_ptr (*)(std::string type, std::string message, std::string process, int pid);

/// Lets exceptions of `type` come back from workers as themselves.
bool register_exception(const std::type_info& type, remote_factory make);

template <class E>
std::exception_ptr make_remote(std::string type, std::string message, std::string process, int pid) {
  return std::make_exception_ptr(remote_exception<E>(std::move(type), std::move(message), std::move(process), pid));
}

template <class E>
bool register_exception_type() {
  static_assert(std::is_base_of_v<std::exception, E> && std::is_copy_constructible_v<E> &&
                    (std::is_constructible_v<E, const std::string&> || std::is_default_constructible_v<E>),
                "MPROC_REGISTER_EXCEPTION takes a std::exception type that can be made from a std::string message");
  return register_exception(typeid(E), &make_remote<E>);
}

}  // namespace detail
}  // namespace mproc

/// Lets pool tasks' exceptions of type E be caught in the parent as E (and as
/// mproc::remote_error): one line at namespace scope in a .cpp of the program,
/// for a type that can be made from its message. The standard exceptions and
/// mproc's own are known already.
#define MPROC_REGISTER_EXCEPTION(E)                                                                       \
  [[maybe_unused]] static const bool MPROC_ERROR_CONCAT(mproc_registered_exception_, __COUNTER__) = \
      ::mproc::detail::register_exception_type<E>()
#define MPROC_ERROR_CONCAT_(a, b) a##b
#define MPROC_ERROR_CONCAT(a, b) MPROC_ERROR_CONCAT_(a, b)
