#include "word_watcher.hpp"

#include "launch.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace mproc::detail {
namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::chrono::milliseconds look_again{100};

struct watch {
  std::uint64_t id;
  word_hold hold;
  std::shared_ptr<const void> owner;  // what the word lives in, until the hold is released
  std::function<void()> fire;
  clock_type::time_point due;
};

// One watcher thread and the watches it sleeps on.
struct watcher_thread {
  std::mutex mutex;
  std::vector<std::shared_ptr<watch>> watches;
  std::vector<std::shared_ptr<watch>> dropped;  // unwatched: their holds are released by the thread
  watcher_bell bell;

  void run() {
    for (;;) {
      const std::uint32_t bell_seen = bell.prepare();
      std::vector<std::shared_ptr<watch>> sleeping_on;
      std::vector<std::shared_ptr<watch>> to_release;
      {
        std::scoped_lock lock(mutex);
        sleeping_on = watches;
        to_release.swap(dropped);
      }
      for (auto& each : to_release) release_word(each->hold);
      std::vector<const word_hold*> holds;
      auto soonest = clock_type::time_point::max();
      for (const auto& each : sleeping_on) {
        holds.push_back(&each->hold);
        soonest = std::min(soonest, each->due);
      }
      std::optional<std::chrono::milliseconds> timeout;
      if (!sleeping_on.empty()) {
        timeout = std::max(std::chrono::milliseconds{0},
                           std::chrono::ceil<std::chrono::milliseconds>(soonest - clock_type::now()));
      }
      const auto changed = sleep_on_words(holds, bell, bell_seen, timeout);
      const auto now = clock_type::now();
      std::vector<std::shared_ptr<watch>> fired;
      {
        std::scoped_lock lock(mutex);
        for (std::size_t i = 0; i < sleeping_on.size(); ++i) {
          const bool woken = std::find(changed.begin(), changed.end(), i) != changed.end();
          if (!woken && sleeping_on[i]->due > now) continue;
          auto found = std::find(watches.begin(), watches.end(), sleeping_on[i]);
          if (found == watches.end()) continue;  // unwatched meanwhile
          fired.push_back(*found);
          watches.erase(found);
        }
      }
      for (auto& each : fired) {
        release_word(each->hold);
        each->fire();
      }
    }
  }
};

// This process's watcher threads. Never destroyed: they may be asleep at exit.
// A forked child starts with none (its parent's threads are not in it).
struct watcher_threads {
  int owner_pid = 0;
  std::mutex mutex;
  std::vector<watcher_thread*> threads;
  std::atomic<std::uint64_t> last_id{0};
};

watcher_threads& this_process_watchers() {
  static std::atomic<watcher_threads*> current{nullptr};
  const int pid = current_pid();
  watcher_threads* all = current.load();
  while (all == nullptr || all->owner_pid != pid) {
    auto* made = new watcher_threads();
    made->owner_pid = pid;
    if (current.compare_exchange_strong(all, made)) return *made;
    delete made;
  }
  return *all;
}

}  // namespace

std::uint64_t watch_word(word_hold hold, std::shared_ptr<const void> owner, std::function<void()> fire) {
  auto& all = this_process_watchers();
  auto made = std::make_shared<watch>(
      watch{++all.last_id, hold, std::move(owner), std::move(fire), clock_type::now() + look_again});
  std::scoped_lock lock(all.mutex);
  watcher_thread* chosen = nullptr;
  for (auto* each : all.threads) {
    std::scoped_lock thread_lock(each->mutex);
    if (each->watches.size() + each->dropped.size() < words_per_watcher_thread) {
      each->watches.push_back(made);
      chosen = each;
      break;
    }
  }
  if (chosen == nullptr) {
    chosen = new watcher_thread();  // never destroyed, as its thread never ends
    chosen->watches.push_back(made);
    all.threads.push_back(chosen);
    std::thread([chosen] { chosen->run(); }).detach();
  }
  chosen->bell.ring();
  return made->id;
}

bool unwatch_word(std::uint64_t id) noexcept {
  auto& all = this_process_watchers();
  std::scoped_lock lock(all.mutex);
  for (auto* each : all.threads) {
    std::scoped_lock thread_lock(each->mutex);
    auto found = std::find_if(each->watches.begin(), each->watches.end(), [&](const auto& w) { return w->id == id; });
    if (found == each->watches.end()) continue;
    each->dropped.push_back(*found);
    each->watches.erase(found);
    each->bell.ring();
    return true;
  }
  return false;
}

}  // namespace mproc::detail
