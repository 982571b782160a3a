// The watch thread: waits on the workers' sentinels and posts a notice in the
// result queue the moment one ends (so that it comes after every result that
// worker put), and kills a worker whose task ran over its time.
#include "pool_engine.hpp"

namespace mproc::detail {

void pool_core::state::run_watch() {
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
      auto* stamp = reinterpret_cast<task_stamp*>(stamps.bytes().data());
      const std::int64_t now = now_ns();
      for (std::size_t i = 0; i < slots.size(); ++i) {
        auto& s = slots[i];
        if (!s.worker || reported.contains({i, s.generation})) continue;
        copies.push_back(copy_sentinel(s.worker->sentinel()));
        whose.emplace_back(i, s.generation);
        const std::uint64_t running = stamp[i].task.load();
        auto record = tasks.find(running);
        if (running == 0 || record == tasks.end() || !record->second.timeout || s.timed_out_task != 0) continue;
        const std::int64_t left = stamp[i].started_ns.load() + record->second.timeout->count() - now;
        if (left <= 0) {
          s.timed_out_task = running;
          s.worker->kill();
        } else {
          wait = std::min(wait, std::chrono::nanoseconds(left));
        }
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

void pool_core::state::stop_threads() {
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
