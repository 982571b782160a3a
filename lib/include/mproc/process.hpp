// Processes: Python's multiprocessing.Process in C++.
//
//   void greet(std::string who) { std::cout << "hello " << who << '\n'; }
//
//   mproc::process p(greet, std::string("world"));
//   p.start();
//   p.join();                       // p.exitcode() == 0
//
// Targets are plain functions or captureless lambdas whose arguments are values
// cereal can serialise (scalars, strings, standard containers, user types with a
// serialize() function). Under start_method::fork any callable works.
#pragma once

#include <mproc/detail/asio_waits.hpp>
#include <mproc/detail/timeout.hpp>
#include <mproc/detail/target.hpp>
#include <mproc/error.hpp>
#include <mproc/init.hpp>
#include <mproc/output.hpp>
#include <mproc/process_info.hpp>
#include <mproc/start_method.hpp>

#include <chrono>
#include <concepts>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

namespace mproc {

/// Settings a process can be given at construction.
struct process_options {
  std::string name{};                   ///< empty: "Process-N" (Python's default names)
  std::optional<bool> daemon{};         ///< unset: not a daemon
  std::optional<start_method> method{}; ///< unset: get_start_method() at start()
  output_capture capture_output{};      ///< see <mproc/output.hpp>; off: the parent's streams
  /// Called in the parent, on mproc's output thread, with each
  /// mproc::report_progress(done, total) the child makes (its own units;
  /// reports closer than 10 ms are dropped but the last); join() returns after
  /// the last. Unset: the child's reports go nowhere.
  std::function<void(std::size_t done, std::size_t total)> progress{};
};

class process;

namespace detail {
struct process_access;
struct child_identity;
struct child_payload;
struct started_child;

/// What the process constructors take as a target: anything but options or
/// another process (those go to the other constructors).
template <class F>
concept possible_target =
    !std::same_as<std::decay_t<F>, process_options> && !std::derived_from<std::decay_t<F>, process>;
}  // namespace detail

/// A child process that runs a target function, or the run() of a subclass.
///
/// Daemon children are terminated when their parent exits and never outlive a
/// parent that is killed; non-daemon children are joined when the parent exits
/// normally (and sent SIGTERM if it is killed). A process object destroyed while
/// its child runs leaves the child running; it is still joined (or, for a daemon,
/// terminated) when the parent exits.
class process {
 public:
  /// A process whose run() does nothing unless a subclass overrides it.
  process();
  explicit process(process_options options);

  /// A process that runs target(args...) in the child.
  template <class F, class... Args>
    requires detail::possible_target<F>
  explicit process(F target, Args&&... args) : process(process_options{}) {
    detail::check_callable_with_travelling<F, Args...>();
    if constexpr (detail::callable_with_travelling<F, Args...>) {
      set_target(detail::make_target_call(std::move(target), std::forward<Args>(args)...));
    }
  }

  template <class F, class... Args>
    requires detail::possible_target<F>
  process(process_options options, F target, Args&&... args) : process(std::move(options)) {
    detail::check_callable_with_travelling<F, Args...>();
    if constexpr (detail::callable_with_travelling<F, Args...>) {
      set_target(detail::make_target_call(std::move(target), std::forward<Args>(args)...));
    }
  }

  process(process&&) noexcept;
  process& operator=(process&&) noexcept;
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  virtual ~process();

  /// Starts the child. Errors: process_error when already started or closed,
  /// when called in a daemon process, when the spawn method is used before
  /// init(), or when the target cannot travel to a spawned child.
  void start();

  /// Waits until the child ends. Errors: process_error before start().
  void join();

  /// Waits at most `timeout`; true if the child has ended.
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_for(detail::saturated(timeout));
  }

  /// Waits for the child's end without blocking a thread (Asio): `token` (a
  /// callback, asio::use_awaitable, use_future, deferred, ...) completes on
  /// `where` (an executor or io_context) with `(std::exception_ptr, int
  /// exitcode)`. The wait sleeps in the context's reactor (a pidfd on Linux,
  /// the process handle on Windows): no thread per child. Cancelling it (any
  /// cancellation type) only stops waiting; the child goes on. The process
  /// object may be moved or destroyed meanwhile.
  template <class ExecutorOrContext, class Token>
  auto async_join(ExecutorOrContext&& where, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::exception_ptr, int)>(
        [this](auto handler, detail::async_executor executor) {
          start_async_join(std::move(executor), std::move(handler));
        },
        token, detail::executor_of(where));
  }

  /// Asks the child to stop as Ctrl-C would: SIGINT on POSIX, so a handler
  /// the child installed runs; without one its exit code becomes -2. Windows
  /// has no signals between processes: the child's mproc runtime raises
  /// SIGINT in the child (its handler runs, on a thread of its own, as for a
  /// console's Ctrl-C); a child without a handler, or one that has not
  /// reached mproc's init() yet, ends with exit code -2.
  void interrupt();
  /// Asks the child to end: SIGTERM on POSIX. Its exit code becomes -15.
  void terminate();
  /// Ends the child at once: SIGKILL on POSIX. Its exit code becomes -9.
  void kill();

  /// True between start() and the child's end.
  bool is_alive() const;

  /// The child's exit code once it has ended: 0 when its target returned
  /// (whatever it returned, as in Python), N after exit(N), 1 if its target
  /// threw, -N if signal N ended it. Empty before that.
  std::optional<int> exitcode() const;

  /// The child's process id; 0 before start(). In the child itself, its own id.
  int pid() const;

  /// Python's sentinel: a handle that becomes ready when the child ends (on
  /// POSIX a pidfd, readable then), for poll/select loops. -1 before start().
  int sentinel() const;

  std::string name() const;
  void set_name(std::string name);

  bool daemon() const;
  /// Errors: process_error after start().
  void set_daemon(bool daemon);

  /// Releases what the process object holds. Errors: process_error while the
  /// child is still running. Most calls throw process_error afterwards.
  void close();

 protected:
  /// What the child runs. The default calls the target given at construction.
  virtual void run();

 private:
  bool join_for(std::chrono::nanoseconds timeout);
  void start_async_join(detail::async_executor executor, detail::async_handler<int> handler);
  /// The started child that join() waits for. Errors: process_error when
  /// there is none (not started, closed, or this process itself).
  std::shared_ptr<detail::started_child> child_to_join() const;
  void set_target(detail::target_call call);
  detail::child_payload start_message(const detail::child_identity& who, start_method default_method) const;

  struct state;
  std::unique_ptr<state> state_;
  friend struct detail::process_access;
};

/// Python-like description: <process name='Process-1' pid=42 parent=41 started daemon>.
std::ostream& operator<<(std::ostream& out, const process& p);

/// This process: "MainProcess" in the main program, the child's name in a child.
process_info current_process();

/// The process that started this one; empty in the main program.
std::optional<process_info> parent_process();

/// The children of this process that are still running (finished ones are reaped).
std::vector<process_info> active_children();

/// The number of CPUs of the machine.
unsigned cpu_count() noexcept;

namespace detail {

/// How a spawned child rebuilds an instance of a process subclass.
struct process_class {
  std::function<std::unique_ptr<process>(input_archive&)> make;
  std::function<void(const process&, output_archive&)> encode;
};

void register_process_class(const std::type_info& type, process_class how);

template <class T, bool StateRebuilt = false>
bool register_process_class() {
  static_assert(std::is_base_of_v<process, T>, "MPROC_REGISTER_PROCESS needs a subclass of mproc::process");
  static_assert(std::default_initializable<T>,
                "a process subclass started by spawn needs a default constructor");
  constexpr bool has_state = cereal::traits::is_output_serializable<T, output_archive>::value &&
                             cereal::traits::is_input_serializable<T, input_archive>::value;
  // A member the child would silently see default-constructed is a bug that
  // only shows under spawn: refuse it here, for every start method.
  static_assert(has_state || StateRebuilt || sizeof(T) == sizeof(process),
                "this process subclass has data members but no serialize(Archive&): spawn and forkserver children "
                "would run with them default-constructed; add `template <class A> void serialize(A& a) { a(m1, m2); "
                "}`, or register it with MPROC_REGISTER_PROCESS_WITHOUT_STATE if its default constructor sets them");
  process_class how;
  how.make = [](input_archive& in) -> std::unique_ptr<process> {
    auto made = std::make_unique<T>();
    if constexpr (has_state) in(*made);
    return made;
  };
  how.encode = [](const process& p, output_archive& out) {
    if constexpr (has_state) out(static_cast<const T&>(p));
  };
  register_process_class(typeid(T), std::move(how));
  return true;
}

}  // namespace detail
}  // namespace mproc

#define MPROC_DETAIL_CONCAT_(a, b) a##b
#define MPROC_DETAIL_CONCAT(a, b) MPROC_DETAIL_CONCAT_(a, b)

/// Lets spawn and forkserver children rebuild a process subclass: one line at
/// namespace scope in a .cpp file of the program. The subclass needs a default
/// constructor, and a serialize(Archive&) member if it has data members: it
/// carries its state (a subclass with members and no serialize() does not compile).
/// The fork method needs no registration.
#define MPROC_REGISTER_PROCESS(T)                                                         \
  [[maybe_unused]] static const bool MPROC_DETAIL_CONCAT(mproc_registered_process_, __COUNTER__) = \
      ::mproc::detail::register_process_class<T>()

/// The same for a subclass whose data members need not travel: a spawned child
/// gets them as its default constructor sets them.
#define MPROC_REGISTER_PROCESS_WITHOUT_STATE(T)                                                   \
  [[maybe_unused]] static const bool MPROC_DETAIL_CONCAT(mproc_registered_process_, __COUNTER__) = \
      ::mproc::detail::register_process_class<T, true>()
