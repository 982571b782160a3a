#include <mproc/start_method.hpp>

#include "../launch.hpp"
#include "spawn_self.hpp"

#include <cstdio>

#include <stdio_ext.h>
#include <sys/syscall.h>
#if defined(__GLIBCXX__)
#include <ext/stdio_sync_filebuf.h>
#endif
#include <cstdlib>
#include <iostream>

#include <string>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace mproc {

std::vector<start_method> all_start_methods() {
  return {start_method::spawn, start_method::fork, start_method::forkserver};
}

namespace detail {

int current_pid() noexcept { return static_cast<int>(::getpid()); }

std::uint64_t resident_bytes() noexcept {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");  // pages: size, resident, ...
  if (statm == nullptr) return 0;
  unsigned long long size = 0;
  unsigned long long resident = 0;
  const bool read = std::fscanf(statm, "%llu %llu", &size, &resident) == 2;
  std::fclose(statm);
  return read ? resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

bool limit_memory(std::uint64_t bytes) noexcept {
  const rlimit limit{bytes, bytes};
  return ::setrlimit(RLIMIT_AS, &limit) == 0;
}

namespace {

// With libstdc++'s default sync_with_stdio(true) the C++ standard streams keep
// no buffer of their own (their output sits in stdout's and stderr's), and
// flushing them would only take the C streams' locks.
bool cpp_streams_have_own_buffers() {
#if defined(__GLIBCXX__)
  return dynamic_cast<__gnu_cxx::stdio_sync_filebuf<char>*>(std::cout.rdbuf()) == nullptr;
#else
  return true;
#endif
}

}  // namespace

void flush_standard_streams() noexcept {
  if (cpp_streams_have_own_buffers()) {
    try {
      std::cout.flush();
      std::cerr.flush();
      std::clog.flush();
    } catch (...) {  // a stream set to throw on failure must not stop the flush below
    }
  }
  // Only stdout and stderr, as Python does: children end with _Exit and never
  // flush the other streams they copied. And only with output pending: fflush
  // takes the stream's lock, a write that costs a page copy after a fork.
  if (__fpending(stdout) > 0) std::fflush(stdout);
  if (__fpending(stderr) > 0) std::fflush(stderr);
}

std::string posix::program_path() {
  char path[4096];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path);
  if (length <= 0 || static_cast<std::size_t>(length) >= sizeof path) return "/proc/self/exe";
  return std::string(path, static_cast<std::size_t>(length));
}

void listen_for_interrupt() noexcept {}  // SIGINT reaches the child as it is

void show_program_name() noexcept {
  try {
    const std::string path = posix::program_path();
    const std::string name = path.substr(path.rfind('/') + 1).substr(0, 15);
    ::prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);  // what ps and top show (15 characters at most)
  } catch (...) {  // no memory: the child keeps the name "exe"
  }
}

void exit_now(int code) noexcept {
  flush_standard_streams();
  // Not exit(): a child must not run the atexit handlers and static destructors
  // it inherited from (or shares with) its parent. And not _Exit() either, only
  // because a forked child's first call of it goes through lazy binding, which
  // copies a dozen pages; syscall() is bound already (pidfd_open uses it).
  ::syscall(SYS_exit_group, code);
  std::_Exit(code);  // not reached
}

}  // namespace detail
}  // namespace mproc
