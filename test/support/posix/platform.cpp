// The tests' look at the system, on POSIX.
#include "support/scratch.hpp"

#include "oom_kills.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

extern char** environ;

namespace mproc::test {

const bool posix_system = true;

scratch_dir::scratch_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "mproc-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

command_result run_command(const std::string& command) {
  command_result result;
  std::fflush(nullptr);
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed: " + command);
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return result;
}

stream_capture::stream_capture(int descriptor)
    : path_(dir_.file("stream")), descriptor_(descriptor) {  // dir_ is made first
  std::fflush(descriptor_ == 1 ? stdout : stderr);
  saved_ = ::dup(descriptor_);
  const int file = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ::dup2(file, descriptor_);
  ::close(file);
}

stream_capture::~stream_capture() { text(); }

std::string stream_capture::text() {
  if (saved_ >= 0) {
    std::fflush(descriptor_ == 1 ? stdout : stderr);
    ::dup2(saved_, descriptor_);
    ::close(saved_);
    saved_ = -1;
  }
  return read_file(path_);
}

namespace {

// This process's children; only those in `state` ("Z") if one is given.
std::vector<int> children_in_state(const char* wanted) {
  std::vector<int> zombies;
  const std::string me = std::to_string(::getpid());
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = read_file(entry.path() / "stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string state, parent;
    fields >> state >> parent;
    if ((wanted == nullptr || state == wanted) && parent == me) zombies.push_back(std::stoi(name));
  }
  return zombies;
}

}  // namespace

std::vector<int> zombie_children() { return children_in_state("Z"); }

std::vector<int> children_of_this_process() { return children_in_state(nullptr); }

bool process_running(int pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return false;
  return stat.substr(close + 2, 1) != "Z";
}

std::set<std::string> shared_memory_names() {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

std::uint64_t shared_memory_committed_bytes(const std::string& prefix) {
  std::uint64_t bytes = 0;
  for (const auto& name : shared_memory_names()) {
    struct stat status {};
    if (name.starts_with(prefix) && ::stat(("/dev/shm/" + name).c_str(), &status) == 0) {
      bytes += static_cast<std::uint64_t>(status.st_blocks) * 512;  // what tmpfs holds, not the size
    }
  }
  return bytes;
}

int thread_count() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++count;
  return count;
}

int open_descriptor_count() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++count;
  return count;
}

int this_pid() { return static_cast<int>(::getpid()); }

void kill_this_process() {
  ::raise(SIGKILL);
  std::abort();  // not reached
}

void abort_with_core_in(const std::string& dir) {
  if (::chdir(dir.c_str()) == 0) {
    const rlimit limit{std::uint64_t{256} << 20, std::uint64_t{256} << 20};
    ::setrlimit(RLIMIT_CORE, &limit);
  }
  std::abort();
}

void kill_process(int pid) { ::kill(pid, SIGKILL); }

bool write_raw(int handle, const void* bytes, std::size_t size) {
  return ::write(handle, bytes, size) == static_cast<ssize_t>(size);
}

int parent_pid() { return static_cast<int>(::getppid()); }

void adopt_orphans() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

std::optional<int> reap_adopted(int pid) {
  for (int tries = 0; tries < 1000; ++tries) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
    ::usleep(10000);
  }
  return std::nullopt;
}

command_result run_self_with_start_message(const std::string& bytes) {
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);  // no O_CLOEXEC: the child inherits the read end
  BOOST_REQUIRE(::write(fds[1], bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  ::close(fds[1]);
  scratch_dir dir;
  const std::string err = dir.file("stderr");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const std::string marker = "--mproc-spawn=" + std::to_string(fds[0]);
  char* argv[] = {const_cast<char*>("/proc/self/exe"), const_cast<char*>(marker.c_str()), nullptr};
  pid_t pid = 0;
  BOOST_REQUIRE(::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status), read_file(err)};
}

std::vector<int> open_inheritable_descriptors() {
  const int null_device = ::open("/dev/null", O_RDONLY);
  int pipe_fds[2];
  BOOST_REQUIRE(::pipe(pipe_fds) == 0);
  const int high = ::fcntl(null_device, F_DUPFD, 200);
  return {null_device, pipe_fds[0], pipe_fds[1], high};
}

std::string descriptors_beyond_stdio(const std::vector<int>&) {
  int extra = 0;
  std::ostringstream names;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    if (fd <= 2) continue;
    std::error_code ec;
    const auto target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (target.starts_with("/proc/") && target.ends_with("/fd")) continue;  // the listing's own
    ++extra;
    names << fd << "->" << target << ' ';
  }
  return std::to_string(extra) + " " + names.str();
}

void close_descriptors(const std::vector<int>& descriptors) {
  for (int fd : descriptors) ::close(fd);
}

bool shared_memory_exists(const std::string& name) { return std::filesystem::exists("/dev/shm/" + name); }

std::optional<unsigned> shared_memory_permissions(const std::string& name) {
  struct stat info {};
  if (::stat(("/dev/shm/" + name).c_str(), &info) != 0) return std::nullopt;
  return info.st_mode & 0777;
}

void suspend_process(int pid) { ::kill(pid, SIGSTOP); }
void resume_process(int pid) { ::kill(pid, SIGCONT); }

void lead_process_group() { ::setpgid(0, 0); }

void become_terminal_program() {
  ::setpgid(0, 0);
  ::signal(SIGINT, SIG_DFL);
}

void interrupt_process_group(int leader) {
  BOOST_REQUIRE(::getpgid(leader) == leader);
  ::kill(-leader, SIGINT);
}

void interrupt_process(int pid) { ::kill(pid, SIGINT); }

std::optional<std::string> make_memory_cgroup(std::uint64_t limit) {
  namespace fs = std::filesystem;
  const auto own = mproc::detail::oom_count_of(::getpid());
  if (!own) return std::nullopt;
  const fs::path parent = fs::path(own->file).parent_path();
  const bool v2 = fs::path(own->file).filename() == "memory.events";
  const fs::path made = parent / ("mproc-test-" + std::to_string(::getpid()));
  std::error_code failed;
  fs::create_directory(made, failed);
  if (failed) return std::nullopt;
  const auto set = [&](const char* name, std::uint64_t value) {
    std::ofstream file(made / name);
    file << value;
    file.flush();
    return static_cast<bool>(file);
  };
  const bool limited = v2 ? set("memory.max", limit) : set("memory.limit_in_bytes", limit);
  if (v2) set("memory.swap.max", 0);
  else set("memory.memsw.limit_in_bytes", limit);  // no swapping instead of the OOM killer, where swap counts
  if (!limited) {
    fs::remove(made, failed);
    return std::nullopt;
  }
  return made.string();
}

void enter_cgroup(const std::string& folder) {
  std::ofstream(std::filesystem::path(folder) / "cgroup.procs") << ::getpid() << std::flush;
}

bool remove_cgroup(const std::string& folder) { return ::rmdir(folder.c_str()) == 0; }

void kill_process_group(int leader) {
  BOOST_REQUIRE(::getpgid(leader) == leader);
  ::kill(-leader, SIGKILL);
}

}  // namespace mproc::test
