// The resource tracker (Python's resource_tracker, refcounted). A process that
// creates its first block forks a tracker and keeps one end of a socketpair;
// it sends the tracker the name of every block it creates. Forked children
// share the socket (and so the tracker); spawned children do not inherit it
// (close-on-exec) and start their own when they create a block.
//
// When every holder of the socket is gone, however it ended, the tracker reads
// end of file. It then removes each block it was told of that no live process
// uses, and keeps looking (every 200 ms) at blocks that still have live users
// until they have none. Meanwhile it looks once a second, so that the blocks
// of a killed forked child go while its parent runs on. A block still in use elsewhere is never removed, which
// is where Python's tracker fails: it unlinks whatever its own process made.
//
// Why fork without exec: the tracker must exist before the first block does,
// wherever in the program that happens, and a spawned program would need the
// user's main() to cooperate. The forked tracker calls only what is safe in a
// child of a threaded process on glibc: system calls, and malloc (which glibc
// makes safe across fork).
#include "resource_tracker.hpp"

#include "../shared_blocks.hpp"
#include "shared_memory_state.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace mproc::detail {
namespace {

// '+' or '-', the creator's pid (4 bytes) and start time (8 bytes), then a name (NAME_MAX is 255)
constexpr std::size_t identity_bytes = sizeof(std::int32_t) + sizeof(std::uint64_t);
constexpr std::size_t largest_message = 512;

struct creator {
  std::int32_t pid = 0;
  std::uint64_t start_time = 0;
};

struct tracker_link {
  std::mutex mutex;
  int socket = -1;
};

tracker_link& link() {
  static auto* made = new tracker_link();  // never destroyed: blocks are released by exit handlers
  return *made;
}

// Every block `names` holds that nobody uses any more is removed; the rest
// are kept for the next look.
void sweep(std::map<std::string, creator>& names) {
  for (auto it = names.begin(); it != names.end();) {
    it = remove_if_unused(it->first, it->second.pid, it->second.start_time) ? names.erase(it) : std::next(it);
  }
}

[[noreturn]] void run_tracker(int socket) {
  // It must outlive its process tree's signals: Ctrl-C, a terminal that goes,
  // a TERM sent to the group. (Python's tracker does the same.)
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  ::prctl(PR_SET_NAME, "mproc-tracker", 0, 0, 0);
  // Hold nothing of the parent's: a pipe kept open here would keep its reader
  // waiting for end of file.
  if (socket > 0) ::close_range(0, static_cast<unsigned>(socket) - 1, 0);
  ::close_range(static_cast<unsigned>(socket) + 1, ~0u, 0);
  const int null = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3 && null >= 0; ++fd) {
    if (fd != null && fd != socket) ::dup2(null, fd);
  }

  std::map<std::string, creator> names;
  std::size_t since_sweep = 0;
  char message[largest_message];
  for (;;) {
    // Once a second, a look at every block: one whose users all died is
    // removed even while its creator's siblings (forked children, which share
    // this tracker) still run.
    pollfd ready{socket, POLLIN, 0};
    const int polled = ::poll(&ready, 1, 1000);
    if (polled == 0) {
      sweep(names);
      continue;
    }
    const ssize_t length = ::recv(socket, message, sizeof message, MSG_DONTWAIT);
    if (length < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (length == 0) break;  // every holder is gone
    if (length < 0) break;
    if (static_cast<std::size_t>(length) <= 1 + identity_bytes) continue;  // not a message of ours
    creator who;
    std::memcpy(&who.pid, message + 1, sizeof who.pid);
    std::memcpy(&who.start_time, message + 1 + sizeof who.pid, sizeof who.start_time);
    const std::string name(message + 1 + identity_bytes, static_cast<std::size_t>(length) - 1 - identity_bytes);
    if (message[0] == '+') names[name] = who;
    if (message[0] == '-') names.erase(name);
    if (++since_sweep == 1024) {  // forget the names that users removed (and are not being made)
      since_sweep = 0;
      for (auto it = names.begin(); it != names.end();) {
        const int fd = ::shm_open(it->first.c_str(), O_RDONLY, 0);
        if (fd >= 0) ::close(fd);
        it = fd < 0 && remove_if_unused(it->first, it->second.pid, it->second.start_time) ? names.erase(it)
                                                                                           : std::next(it);
      }
    }
  }
  for (sweep(names); !names.empty(); sweep(names)) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::_exit(0);
}

// Forked twice, in a session of its own: whatever kills this process's
// group or its tree of descendants (Ctrl-C, `timeout`, a test runner ending
// a test that ran over its time: CTest kills with SIGKILL) must not take the
// tracker with it, or nobody would remove the blocks. The middle process ends
// at once and is reaped here, so the tracker is no child of ours.
bool start_tracker(tracker_link& l) {
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) return false;
  const int middle = ::fork();
  if (middle == 0) {
    ::setsid();
    if (::fork() == 0) run_tracker(sockets[0]);
    ::_exit(0);
  }
  ::close(sockets[0]);
  if (middle < 0) {
    ::close(sockets[1]);
    return false;
  }
  while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
  }
  l.socket = sockets[1];
  return true;
}

void forget_tracker(tracker_link& l) {
  ::close(l.socket);
  l.socket = -1;
}

bool send_message(tracker_link& l, char kind, const std::string& name) {
  const std::size_t length = 1 + identity_bytes + name.size();
  if (length > largest_message) return false;
  char message[largest_message];
  message[0] = kind;
  const identity me = self();
  const auto pid = static_cast<std::int32_t>(me.pid);
  std::memcpy(message + 1, &pid, sizeof pid);
  std::memcpy(message + 1 + sizeof pid, &me.start_time, sizeof me.start_time);
  name.copy(message + 1 + identity_bytes, name.size());
  return ::send(l.socket, message, length, MSG_NOSIGNAL) == static_cast<ssize_t>(length);
}

}  // namespace

void track_block(const std::string& name) noexcept {
  tracker_link& l = link();
  std::lock_guard lock(l.mutex);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (l.socket < 0 && !start_tracker(l)) return;
    if (send_message(l, '+', name)) return;
    forget_tracker(l);  // it died (killed by hand?): start another
  }
}

void untrack_block(const std::string& name) noexcept {
  tracker_link& l = link();
  std::lock_guard lock(l.mutex);
  if (l.socket >= 0) send_message(l, '-', name);
}

void reset_tracker_after_fork() noexcept { new (&link().mutex) std::mutex(); }

}  // namespace mproc::detail
