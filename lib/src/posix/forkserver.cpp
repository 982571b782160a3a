// The forkserver start method.
//
// A server process (this program, spawned with --mproc-forkserver) is started on
// first use and forks one child per request. Requests travel over a socketpair
// that only this process holds, so nobody else can reach the server and there
// is no socket file to clean up. Each request carries, besides the child's
// payload, one end of a fresh socketpair (SCM_RIGHTS) on which the server
// answers the child's pid and, when the child ends, its exit code: the child is
// the server's, so only the server can reap it.
#include "../launch.hpp"
#include "../payload.hpp"

#include "file_descriptor.hpp"
#include "forkserver_request.hpp"
#include "launcher_thread.hpp"
#include "spawn_self.hpp"
#include "waited_child.hpp"

#include <mproc/error.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <vector>

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace mproc::detail {
namespace {

using posix::unique_fd;

// ---- the client, in the process that starts children ----

struct server_link {
  int owner_pid = 0;
  std::mutex mutex;
  unique_fd control;
  std::unique_ptr<posix::waited_child> server;

  void start_server() {
    auto [ours, theirs] = posix::socket_pair();
    const int pid = posix::spawn_self("--mproc-forkserver=" + std::to_string(theirs.get()),
                                      theirs.get(), SIGKILL);
    control = std::move(ours);
    server = std::make_unique<posix::waited_child>(pid);
  }

  bool send(int status_fd, const launch_request& request) {
    return posix::send_fd(control.get(), status_fd) && posix::write_frame(control.get(), request.payload) &&
           posix::write_handles(control.get(), request.handles);
  }
};

server_link& link_of_this_process() {
  static std::atomic<server_link*> current{nullptr};
  const int pid = current_pid();
  server_link* link = current.load();
  while (link == nullptr || link->owner_pid != pid) {
    auto* made = new server_link();  // never destroyed: the server lives as long as we do
    made->owner_pid = pid;
    if (current.compare_exchange_strong(link, made)) return *made;
    delete made;
  }
  return *link;
}

// A child of the server: signalled through its pidfd, its end read from the server.
class served_child final : public child_handle {
 public:
  served_child(int pid, unique_fd status) : pid_(pid), pidfd_(posix::open_pidfd(pid)), status_(std::move(status)) {}

  int pid() const noexcept override { return pid_; }
  int sentinel() const noexcept override { return pidfd_ ? pidfd_.get() : -1; }
  // The server writes the end here after reaping it: wait() reads it at once.
  int ended_handle() const noexcept override { return status_.get(); }

  std::optional<int> wait(std::optional<std::chrono::nanoseconds> timeout) override {
    {
      std::lock_guard lock(mutex_);
      if (code_) return code_;
    }
    if (!posix::wait_readable(status_.get(), timeout)) return std::nullopt;
    std::lock_guard lock(mutex_);
    if (code_) return code_;
    std::int32_t status = 0;  // waitpid's, as the server read it
    int code = 0;
    if (posix::read_exact(status_.get(), &status, sizeof status)) {
      code = posix::decode_wait_status(status);
      core_.store(WIFSIGNALED(status) && WCOREDUMP(status));
    } else {
      // The server ended first (killed): its children end by their death
      // signal, and their exit status, which only the server could read, is
      // lost. As Python's forkserver, the code is then 255, once the child has
      // ended (its pidfd says so): a waiter never hangs on a dead server.
      if (pidfd_ && !posix::wait_readable(pidfd_.get(), timeout)) return std::nullopt;
      code = lost_status;
    }
    code_ = code;
    return code_;
  }

  bool dumped_core() const noexcept override { return core_.load(); }
  void interrupt() override { send(SIGINT); }
  void terminate() override { send(SIGTERM); }
  void kill() override { send(SIGKILL); }

 private:
  void send(int signal) {
    std::lock_guard lock(mutex_);
    if (code_) return;
    if (pidfd_ && ::syscall(SYS_pidfd_send_signal, pidfd_.get(), signal, nullptr, 0) == 0) return;
    ::kill(pid_, signal);
  }

  static constexpr int lost_status = 255;

  int pid_;
  unique_fd pidfd_;
  unique_fd status_;
  std::mutex mutex_;
  std::optional<int> code_;
  std::atomic<bool> core_{false};
};

// ---- the server ----

using signal_handler = void (*)(int);
signal_handler children_sigint = SIG_DFL;  // SIGINT's disposition as the server was started with

struct server_child {
  int pid;
  unique_fd pidfd;
  unique_fd status;
};

void answer(int fd, std::int32_t value) {
  posix::write_all(fd, std::string_view(reinterpret_cast<const char*>(&value), sizeof value));
}

[[noreturn]] void run_forked_child(const child_payload& payload, std::vector<int> handles, int server_pid,
                                   unique_fd& control, std::vector<server_child>& others) {
  posix::set_death_signal(payload.daemon ? SIGKILL : SIGTERM, server_pid);
  ::signal(SIGINT, children_sigint);
  control.reset();
  for (auto& other : others) {
    other.pidfd.reset();
    other.status.reset();
  }
  exit_now(run_payload(payload, std::move(handles)));
}

}  // namespace

std::optional<forkserver_request> read_forkserver_request(int control) {
  unique_fd status = posix::receive_fd(control);
  if (!status) return std::nullopt;
  forkserver_request request;
  request.status = std::move(status);
  const std::string bytes = posix::read_frame(control);
  request.handles = posix::read_handles(control);
  try {
    request.payload = decode_payload(bytes);
  } catch (const serialization_error& e) {  // refuse this request, serve the next
    request.refused = e.what();
    for (int fd : request.handles) ::close(fd);
    request.handles.clear();
  }
  return request;
}

namespace {

// Handles one request; false when the parent has gone.
bool serve_request(unique_fd& control, std::vector<server_child>& children) {
  auto request = read_forkserver_request(control.get());
  if (!request) return false;
  unique_fd status = std::move(request->status);
  if (!request->refused.empty()) {
    std::fprintf(stderr, "mproc forkserver: %s\n", request->refused.c_str());
    answer(status.get(), -1);
    return true;
  }
  const child_payload& payload = request->payload;
  std::vector<int> handles = std::move(request->handles);
  const int server_pid = current_pid();
  const int pid = ::fork();
  if (pid == 0) {
    status.reset();
    run_forked_child(payload, std::move(handles), server_pid, control, children);
  }
  for (int fd : handles) ::close(fd);  // the child has them now
  answer(status.get(), pid);
  if (pid > 0) children.push_back({pid, posix::open_pidfd(pid), std::move(status)});
  return true;
}

void report_ended(std::vector<server_child>& children, std::size_t index) {
  int status = 0;
  while (::waitpid(children[index].pid, &status, 0) < 0 && errno == EINTR) {
  }
  answer(children[index].status.get(), status);  // raw: the client tells a core dump too
  children.erase(children.begin() + static_cast<std::ptrdiff_t>(index));
}

}  // namespace

std::unique_ptr<child_handle> launch_forkserver(const launch_request& request) {
  server_link& link = link_of_this_process();
  std::lock_guard lock(link.mutex);
  if (!link.server || link.server->wait(std::chrono::nanoseconds{0})) link.start_server();
  auto [ours, theirs] = posix::socket_pair();
  if (!link.send(theirs.get(), request)) {  // the server died: start another, once
    link.server->wait(std::chrono::seconds{5});
    link.start_server();
    if (!link.send(theirs.get(), request)) throw process_error("the forkserver is not answering");
  }
  theirs.reset();
  std::int32_t pid = -1;
  if (!posix::read_exact(ours.get(), &pid, sizeof pid)) {
    throw process_error("the forkserver ended while starting a child");
  }
  if (pid < 0) throw process_error("the forkserver could not fork a child");
  return std::make_unique<served_child>(pid, std::move(ours));
}

void run_forkserver(const std::string& channel) {
  unique_fd control(std::stoi(channel));
  // Ctrl-C reaches the whole process group: the program decides what it
  // means, and the server must go on serving it (it ends when the program
  // does, by its channel's end). Its children get the program's disposition.
  children_sigint = ::signal(SIGINT, SIG_IGN);
  std::vector<server_child> children;
  try {
    for (;;) {
      std::vector<pollfd> watched{{control.get(), POLLIN, 0}};
      for (const auto& child : children) watched.push_back({child.pidfd.get(), POLLIN, 0});
      if (::poll(watched.data(), watched.size(), -1) < 0) {
        if (errno == EINTR) continue;
        posix::throw_errno("poll");
      }
      for (std::size_t i = watched.size() - 1; i >= 1; --i) {
        if (watched[i].revents != 0) report_ended(children, i - 1);
      }
      if (watched[0].revents != 0 && !serve_request(control, children)) break;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mproc forkserver: %s\n", e.what());
  }
  exit_now(0);
}

}  // namespace mproc::detail
