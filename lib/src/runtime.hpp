// This process's view of itself and of its children.
#pragma once

#include "child_handle.hpp"

#include <mproc/process.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace mproc::detail {

class captured_output;
class line_reader;

/// A started child, shared by its process object and by the runtime's list of
/// children (which outlives the object, so that the child is still reaped).
struct started_child {
  std::unique_ptr<child_handle> handle;
  std::shared_ptr<captured_output> output;  // null unless its output is captured
  std::shared_ptr<line_reader> log_records;  // its record pipe, when this process is the logging one
  std::shared_ptr<line_reader> progress_reports;  // its progress pipe, when process_options::progress is set
  std::string name;
  bool daemon = false;
};

/// Whether a started process's child dumped core as it ended (once it has).
bool dumped_core_of(const process& p);

/// Who this process is, as a child sees it after start.
struct child_identity {
  std::string name;
  bool daemon = false;
  std::vector<int> identity;
  process_info parent;
};

class runtime {
 public:
  /// The runtime of this process. A forked child gets a fresh one: the parent's
  /// may have been locked by another thread at the moment of the fork.
  static runtime& get();

  /// Makes this process the child described by `who` (in a new child).
  static void become_child(const child_identity& who);

  /// The same, in a child made by fork: resets the runtime copied from the
  /// parent in place instead of making a new one, because every page a forked
  /// child writes costs a copy. Call it before anything else uses the runtime.
  static void become_forked_child(const child_identity& who);

  process_info self() const;
  std::optional<process_info> parent() const;
  const std::vector<int>& identity() const { return identity_; }

  /// The identity of the next process object made here: this process's identity
  /// followed by a counter that starts at 1 in every process.
  std::vector<int> next_child_identity();

  void add_child(std::shared_ptr<started_child> child);
  /// Reaps children that have ended and forgets those that nobody refers to.
  void reap_finished();
  std::vector<process_info> active_children();
  /// Python's exit function: terminates daemon children, joins the others.
  void finish_children();

  bool initialized = false;
  start_method default_method = start_method::spawn;

 private:
  runtime() { identity_.reserve(8); }  // room for a forked child's identity
  void set_identity(const child_identity& who);

  int pid_ = 0;
  process_info self_{"MainProcess", 0, false};
  std::optional<process_info> parent_;
  std::vector<int> identity_;
  int next_number_ = 1;
  std::mutex mutex_;
  std::vector<std::shared_ptr<started_child>> children_;
};

/// Runs `body` as a child's main work: an escaping exception is printed to
/// stderr with the process's name, type and message, and gives exit code 1.
/// Then joins this child's own children. Returns the exit code, to be passed
/// to exit_now().
int run_child_body(const std::function<void()>& body);

/// Registers, once per program, the exit handler that finishes children.
void ensure_exit_handler();

}  // namespace mproc::detail
