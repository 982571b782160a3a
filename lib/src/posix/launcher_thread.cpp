#include "launcher_thread.hpp"

#include "../launch.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include <csignal>
#include <sys/prctl.h>
#include <unistd.h>

namespace mproc::detail::posix {
namespace {

struct launcher {
  int owner_pid = 0;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::packaged_task<void()>*> jobs;

  void serve() {
    for (;;) {
      std::packaged_task<void()>* job = nullptr;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return !jobs.empty(); });
        job = jobs.front();
        jobs.pop_front();
      }
      (*job)();
    }
  }
};

std::atomic<launcher*> instance{nullptr};

launcher& get_launcher() {
  // A forked child has no launcher thread (only the forking thread survives a
  // fork) and may have inherited a locked mutex: it makes a launcher of its own,
  // leaking its copy of the parent's. Launchers are never destroyed: they serve
  // until the process ends.
  const int pid = current_pid();
  launcher* current = instance.load(std::memory_order_acquire);
  while (current == nullptr || current->owner_pid != pid) {
    auto* made = new launcher();
    made->owner_pid = pid;
    if (instance.compare_exchange_strong(current, made, std::memory_order_acq_rel)) {
      std::thread([made] { made->serve(); }).detach();
      return *made;
    }
    delete made;
  }
  return *current;
}

}  // namespace

void run_on_launcher_thread(const std::function<void()>& job) {
  if (::gettid() == ::getpid()) {  // the main thread
    job();
    return;
  }
  launcher& l = get_launcher();
  std::packaged_task<void()> task(job);
  auto done = task.get_future();
  {
    std::lock_guard lock(l.mutex);
    l.jobs.push_back(&task);
  }
  l.wake.notify_one();
  done.get();
}

void prepare_death_signal() noexcept {
  // A child's first call of a library function goes through the dynamic
  // linker (lazy binding), which writes to pages the child shares with its
  // parent and so costs a dozen page copies per child. Calling them here once
  // binds them in the parent, before it forks.
  static const bool bound = [] {
    int current = 0;
    ::prctl(PR_GET_PDEATHSIG, &current);
    return ::getppid() >= 0;
  }();
  (void)bound;
}

void set_death_signal(int signal, int parent_pid) noexcept {
  ::prctl(PR_SET_PDEATHSIG, signal);
  // The parent may have died before prctl() took effect.
  if (::getppid() != parent_pid) ::raise(signal);
}

}  // namespace mproc::detail::posix
