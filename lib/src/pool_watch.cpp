// The watch thread: waits on the workers' sentinels and posts a notice in the
// result queue the moment one ends (so that it comes after every result that
// worker put), and asks a task over its time (or cancelled while it runs) to
// stop, killing its worker at once or once the pool's stop_grace is over.
#include "pool_engine.hpp"

namespace mproc::detail {

void local_pool::state::run_watch() {
  std::set<std::pair<std::size_t, std::uint64_t>> reported;
  for (;;) {
    std::vector<int> copies;
    std::vector<std::pair<std::size_t, std::uint64_t>> whose;
    auto wait = std::chrono::nanoseconds(std::chrono::seconds(1));
    {
      std::scoped_lock lock(mutex);
      if (stopping) break;
      // A give() fails when the worker's queue is busy at that instant; the
      // next result or submit hands the task out again, and if none comes
      // (nothing else running), this does, within a second.
      if (!pending.empty()) {
        try {
          dispatch();
        } catch (const std::exception& e) {
          std::cerr << "mproc pool: cannot hand out a task: " << e.what() << std::endl;
        }
      }
      const std::int64_t now = now_ns();
      for (std::size_t i = 0; i < slots.size(); ++i) {
        auto& s = slots[i];
        if (!s.worker || reported.contains({i, s.generation})) continue;
        copies.push_back(copy_sentinel(s.worker->sentinel()));
        whose.emplace_back(i, s.generation);
        wait = std::min(wait, watch_slot(i, now));
      }
    }
    const auto ready = watch_wait.wait(copies, wait);
    for (int copy : copies) close_sentinel_copy(copy);
    for (const std::size_t i : ready) {
      reported.insert(whose[i]);
      try {
        results.put(result_head(0, whose[i].second, static_cast<std::uint32_t>(whose[i].first), death_notice),
                    std::nullopt);
      } catch (const std::exception& e) {
        std::cerr << "mproc pool: cannot report a dead worker: " << e.what() << std::endl;
      }
    }
  }
}

std::chrono::nanoseconds local_pool::state::watch_slot(std::size_t slot, std::int64_t now) {
  constexpr auto idle = std::chrono::nanoseconds(std::chrono::seconds(1));
  auto& s = slots[slot];
  const auto& stamp = stamp_of(slot);
  const std::uint64_t run = stamp.run.load();
  const std::uint64_t running = stamp.task.load();
  const std::int64_t started = stamp.started_ns.load();
  if (stamp.run.load() != run) return std::chrono::milliseconds(1);  // a run began meanwhile: read again
  auto record = tasks.find(running);
  if (running == 0 || record == tasks.end() || s.timed_out_task != 0) return idle;
  if (s.asked && s.asked->run == run && s.asked->task == running) {
    if (now < s.asked->kill_at) return std::chrono::nanoseconds(s.asked->kill_at - now);
    s.timed_out_task = running;  // the grace is over
    s.worker->kill();
    return idle;
  }
  if (cancelled.contains(running)) return ask_to_stop(slot, running, run, now);
  if (!record->second.timeout) return idle;
  const std::int64_t left = started + record->second.timeout->count() - now;
  if (left > 0) return std::chrono::nanoseconds(left);
  return ask_to_stop(slot, running, run, now);
}

std::chrono::nanoseconds local_pool::state::ask_to_stop(std::size_t slot, std::uint64_t task, std::uint64_t run,
                                                        std::int64_t now) {
  auto& s = slots[slot];
  if (options.stop_grace.count() == 0) {
    s.timed_out_task = task;
    s.worker->kill();
    return std::chrono::seconds(1);
  }
  s.asked = stop_request{task, run, now + options.stop_grace.count()};
  stamp_of(slot).stop.store(run);
  return options.stop_grace;
}

void local_pool::state::stop_threads() {
  {
    std::scoped_lock lock(mutex);
    stopping = true;
  }
  watch_wait.wake();
  if (watch_thread.joinable()) watch_thread.join();
  if (result_thread.joinable()) {
    results.put(result_head(0, 0, 0, stop_notice), std::nullopt);
    result_thread.join();
  }
}

}  // namespace mproc::detail
