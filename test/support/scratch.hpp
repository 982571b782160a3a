// What the tests share: private temporary folders, files, stderr capture,
// running commands, and looks at this process's children and descriptors.
#pragma once

#include <mproc/process.hpp>
#include <mproc/start_method.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mproc::test {

/// A private temporary folder, removed with everything in it at the end of scope.
class scratch_dir {
 public:
  scratch_dir();
  ~scratch_dir();
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  std::string file(std::string_view name) const;
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);  // empty when missing
void write_file(const std::string& path, std::string_view text);
std::vector<std::string> lines_of(const std::string& text);
bool contains_line(const std::string& text, const std::string& line);

struct command_result {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
/// Runs `command` through /bin/sh and collects what it prints.
command_result run_command(const std::string& command);

/// Redirects descriptor 1 or 2 (this process's and its new children's stdout
/// or stderr) to a file until text() is called or the capture ends.
class stream_capture {
 public:
  explicit stream_capture(int descriptor);
  ~stream_capture();
  std::string text();

 private:
  scratch_dir dir_;  // before path_, which is made from it
  std::string path_;
  int descriptor_;
  int saved_ = -1;
};

/// Pids of this process's children that have ended but were never reaped.
std::vector<int> zombie_children();
/// Pids of this process's children, running or ended (POSIX; empty elsewhere).
std::vector<int> children_of_this_process();
/// True while a process with this pid exists and is not a zombie.
bool process_running(int pid);
/// The names in /dev/shm.
std::set<std::string> shared_memory_names();
/// Bytes of /dev/shm committed to blocks whose names start with `prefix`
/// (POSIX; 0 elsewhere).
std::uint64_t shared_memory_committed_bytes(const std::string& prefix);
/// The descriptors this process has open.
int open_descriptor_count();
/// The threads this process has.
int thread_count();

/// This process's id.
int this_pid();
/// Ends this process at once, as SIGKILL does (exit code -9 as mproc reads it).
[[noreturn]] void kill_this_process();
/// Ends this process by SIGABRT with core dumps allowed, its working folder
/// `dir` (where a core pattern of "core" puts one). Windows: abort().
[[noreturn]] void abort_with_core_in(const std::string& dir);
/// Ends process `pid` at once, as SIGKILL does.
void kill_process(int pid);
/// Writes raw bytes to a connection's native handle; false if not all went.
bool write_raw(int handle, const void* bytes, std::size_t size);

/// This process's parent, as the system sees it.
int parent_pid();
/// Makes this process the one that orphaned descendants are given to (POSIX;
/// nothing elsewhere), so that a test can reap them.
void adopt_orphans();
/// Waits up to 10 s for an adopted descendant `pid` to end and reaps it: how it
/// ended (-N for signal N), or nothing if it did not.
std::optional<int> reap_adopted(int pid);
/// Runs this test program as a spawned child whose start channel carries
/// `bytes`; what it wrote to stderr, and its exit code.
command_result run_self_with_start_message(const std::string& bytes);
/// Descriptors opened without close-on-exec, below and above others (POSIX);
/// on Windows, an inheritable handle of a signalled event.
std::vector<int> open_inheritable_descriptors();
/// In a child: "N details" for the N descriptors it has beyond stdio (POSIX:
/// all of them; Windows: those of `parent_opened` that it inherited).
std::string descriptors_beyond_stdio(const std::vector<int>& parent_opened);
void close_descriptors(const std::vector<int>& descriptors);

/// Whether a shared memory block called `name` exists (in /dev/shm, or as a
/// Windows section).
bool shared_memory_exists(const std::string& name);
/// The permission bits of block `name` (POSIX); nothing where there are none.
std::optional<unsigned> shared_memory_permissions(const std::string& name);
/// Stops process `pid` until resumed (SIGSTOP; on Windows, its threads).
void suspend_process(int pid);
void resume_process(int pid);
/// Makes this process the leader of a new process group (POSIX).
void lead_process_group();
/// SIGKILL to every process of the group that `leader` leads (POSIX).
void kill_process_group(int leader);
/// Leads a new process group, with SIGINT's default action, as a program a
/// terminal started (a shell's background job ignores SIGINT) (POSIX).
void become_terminal_program();
/// SIGINT to every process of the group that `leader` leads, as Ctrl-C in a
/// terminal sends it; on Windows, Ctrl-C to every process of this console.
void interrupt_process_group(int leader);
/// SIGINT to process `pid` (Windows: as process::interrupt() does).
void interrupt_process(int pid);
/// A new memory cgroup under this process's own, limited to `limit` bytes: its
/// folder, or nothing where none can be made (not Linux, not allowed).
std::optional<std::string> make_memory_cgroup(std::uint64_t limit);
/// Moves this process into the cgroup in `folder`.
void enter_cgroup(const std::string& folder);
/// Removes an empty cgroup; false if it is not (yet) empty.
bool remove_cgroup(const std::string& folder);

/// True on POSIX systems; the POSIX-only tests are skipped elsewhere.
extern const bool posix_system;
/// Built with ASan or TSan (GCC's macros; clang's __has_feature).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool under_sanitizer = true;
#elif defined(__has_feature)
inline constexpr bool under_sanitizer = __has_feature(address_sanitizer) || __has_feature(thread_sanitizer);
#else
inline constexpr bool under_sanitizer = false;
#endif

/// A test case decorator: skips the case, saying why, unless `method` is a
/// start method of this platform (fork and forkserver do not exist on Windows).
boost::unit_test::precondition method_available(mproc::start_method method);
/// A test case decorator: skips the case on non-POSIX systems, with `reason`.
boost::unit_test::precondition posix_only(const char* reason);

/// Marks the running case as skipped, with `reason` (return after calling it):
/// for what only the case's body can tell.
void skip_case(std::string_view reason);

/// Options that choose only the start method.
inline mproc::process_options with(mproc::start_method method) {
  mproc::process_options options;
  options.method = method;
  return options;
}

/// Polls `done` every few milliseconds for at most `seconds`.
template <class Predicate>
bool eventually(Predicate done, double seconds = 10.0);

}  // namespace mproc::test

/// Defines one test case per start method, named <name>_spawn, <name>_fork and
/// <name>_forkserver; the body sees `method`. A method the platform does not
/// have is skipped, with the reason.
#define MPROC_TEST_EACH_METHOD(name)                                                              \
  static void name(mproc::start_method method);                                                   \
  BOOST_AUTO_TEST_CASE(name##_spawn) { name(mproc::start_method::spawn); }                        \
  BOOST_AUTO_TEST_CASE(name##_fork, *mproc::test::method_available(mproc::start_method::fork)) {   \
    name(mproc::start_method::fork);                                                              \
  }                                                                                               \
  BOOST_AUTO_TEST_CASE(name##_forkserver,                                                         \
                       *mproc::test::method_available(mproc::start_method::forkserver)) {         \
    name(mproc::start_method::forkserver);                                                        \
  }                                                                                               \
  static void name([[maybe_unused]] mproc::start_method method)

#include <chrono>
#include <thread>

template <class Predicate>
bool mproc::test::eventually(Predicate done, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}
