#include "word_watcher.hpp"

#include "launch.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
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
  std::function<void()> fire;
  clock_type::time_point due;
};

// One watcher thread and the watches it sleeps on. A round: take the list,
// release the holds of watches dropped meanwhile, sleep, fire what changed.
// The words are read only inside a round, so that once a round has begun
// after a watch was dropped, its word may go (unwatch waits for that).
struct watcher_thread {
  std::mutex mutex;
  std::condition_variable round_begun;
  std::vector<std::shared_ptr<watch>> watches;
  std::vector<std::shared_ptr<watch>> dropped;  // unwatched: their holds are released by the thread
  std::uint64_t rounds_started = 0;
  std::uint64_t rounds_cleared = 0;  // rounds whose dropped watches are released
  watcher_bell bell;

  void run() {
    for (;;) {
      const std::uint32_t bell_seen = bell.prepare();
      std::vector<std::shared_ptr<watch>> sleeping_on;
      std::vector<std::shared_ptr<watch>> to_release;
      std::uint64_t round = 0;
      {
        std::scoped_lock lock(mutex);
        sleeping_on = watches;
        to_release.swap(dropped);
        round = ++rounds_started;
      }
      for (auto& each : to_release) release_word(each->hold);
      to_release.clear();
      {
        std::scoped_lock lock(mutex);
        rounds_cleared = round;
      }
      round_begun.notify_all();
      sleep_and_fire(sleeping_on, bell_seen);
    }
  }

  void sleep_and_fire(const std::vector<std::shared_ptr<watch>>& sleeping_on, std::uint32_t bell_seen) {
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
      release_word(each->hold);  // before the fire: its owner may go once it has run
      each->fire();
    }
  }

  // Waits until a round begun after now has released what was dropped.
  void wait_for_next_round(std::unique_lock<std::mutex>& lock) {
    const std::uint64_t target = rounds_started + 1;
    bell.ring();
    round_begun.wait(lock, [&] { return rounds_cleared >= target; });
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

std::uint64_t watch_word(word_hold hold, std::function<void()> fire) {
  auto& all = this_process_watchers();
  auto made = std::make_shared<watch>(watch{++all.last_id, hold, std::move(fire), clock_type::now() + look_again});
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
  std::vector<watcher_thread*> threads;
  {
    std::scoped_lock lock(all.mutex);
    threads = all.threads;
  }
  for (auto* each : threads) {
    std::unique_lock lock(each->mutex);
    auto found = std::find_if(each->watches.begin(), each->watches.end(), [&](const auto& w) { return w->id == id; });
    if (found == each->watches.end()) continue;
    each->dropped.push_back(*found);
    each->watches.erase(found);
    each->wait_for_next_round(lock);  // its hold is released, and its word no longer read
    return true;
  }
  // Fired already, maybe in a round still running: let every thread end it.
  for (auto* each : threads) {
    std::unique_lock lock(each->mutex);
    each->wait_for_next_round(lock);
  }
  return false;
}

}  // namespace mproc::detail
