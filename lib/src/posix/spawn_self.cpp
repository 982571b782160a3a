#include "spawn_self.hpp"

#include "../launch.hpp"
#include "file_descriptor.hpp"
#include "launcher_thread.hpp"
#include "waited_child.hpp"

#include <mproc/error.hpp>

// Boost.Process 1.81 v2 with std::filesystem needs these before its headers
// (its config.hpp uses boost::optional and type traits it does not include).
#include <boost/optional.hpp>
#include <boost/type_traits/conditional.hpp>
#include <boost/type_traits/is_constructible.hpp>
#include <boost/type_traits/remove_pointer.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/process/v2/process.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace mproc::detail::posix {
namespace {

namespace bp = boost::process::v2;

// Runs in the child between fork and exec (Boost.Process v2 init hooks).
struct child_setup {
  int inherited_fd;
  int death_signal;
  int parent_pid;
  const char* const* argv;  // the program's path, then the marker: not /proc/self/exe as argv[0]

  bp::error_code on_setup(bp::posix::default_launcher& launcher, const bp::filesystem::path&,
                          const char* const*(&cmd_line)) {
    launcher.fd_whitelist.push_back(inherited_fd);
    cmd_line = argv;
    return {};
  }

  bp::error_code on_exec_setup(bp::posix::default_launcher& launcher, const bp::filesystem::path&,
                               const char* const*) {
    set_death_signal(death_signal, parent_pid);
    if (::fcntl(inherited_fd, F_SETFD, 0) != 0) return {errno, bp::system_category()};
    // Boost 1.81's own close_all() skips descriptors (an off-by-one fixed upstream
    // in 2024), so the child would inherit every fd the parent had open without
    // O_CLOEXEC. Close each gap between the whitelisted descriptors here. In-place
    // sort: no allocation between fork and exec.
    auto& keep = launcher.fd_whitelist;
    std::sort(keep.begin(), keep.end());
    unsigned next = 0;
    for (int fd : keep) {
      const auto kept = static_cast<unsigned>(fd);
      if (kept > next) ::syscall(SYS_close_range, next, kept - 1, 0);
      next = std::max(next, kept + 1);
    }
    ::syscall(SYS_close_range, next, UINT_MAX, 0);
    return {};
  }
};

// The launcher only uses the io_context as an executor for the process handle
// it returns; it is never run. One per process: a forked child must not share
// its parent's epoll instance.
boost::asio::io_context& launch_context() {
  static std::atomic<std::pair<int, boost::asio::io_context*>*> current{nullptr};
  const int pid = current_pid();
  auto* entry = current.load();
  while (entry == nullptr || entry->first != pid) {
    auto* made = new std::pair<int, boost::asio::io_context*>(pid, new boost::asio::io_context(1));
    if (current.compare_exchange_strong(entry, made)) return *made->second;
    delete made->second;
    delete made;
  }
  return *entry->second;
}

}  // namespace

int spawn_self(const std::string& marker, int inherited_fd, int death_signal) {
  flush_standard_streams();  // a failed exec makes Boost 1.81's child call exit()
  int pid = -1;
  const int parent = current_pid();
  run_on_launcher_thread([&] {
    auto& context = launch_context();
    std::vector<std::string> args{marker};
    const std::string program = program_path();  // the child's argv[0], what `ps -f` shows
    const char* const argv[] = {program.c_str(), marker.c_str(), nullptr};
    bp::error_code ec;
    // /proc/self/exe is this very binary, even if its file was replaced since.
    auto child = bp::default_process_launcher()(context.get_executor(), ec, "/proc/self/exe", args,
                                                child_setup{inherited_fd, death_signal, parent, argv});
    if (ec) throw process_error("cannot start a child process: " + ec.message());
    pid = child.id();
    child.detach();
  });
  return pid;
}

}  // namespace mproc::detail::posix
