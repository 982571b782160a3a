// Workers' lives as the parent sees them: starting one, and what happens when
// one dies (its tasks fail, run again or go to its replacement; a pool whose
// workers keep dying gives up).
#include "pool_engine.hpp"

#include "function_names.hpp"
#include "runtime.hpp"

namespace mproc::detail {

void local_pool::state::start_worker(std::size_t slot) {
  worker_links links{slots[slot].tasks, results, stamps, static_cast<std::uint32_t>(slot),
                     options.maxtasksperchild, options.max_memory_per_child, options.memory_limit_per_child};
  process_options how;
  how.name = "PoolWorker-" + std::to_string(++workers_started);
  how.daemon = true;
  how.method = options.method;
  how.capture_output = options.capture_output;
  process worker = options.initializer ? options.initializer(how, std::move(links))
                                       : process(how, &pool_worker, std::move(links));
  stamp_of(slot).ready.store(0);
  // Only this worker's fork takes its task queue along (see set_inherited_by_fork).
  slots[slot].tasks.set_inherited_by_fork(true);
  struct not_inherited_after {
    byte_queue& tasks;
    ~not_inherited_after() { tasks.set_inherited_by_fork(false); }
  } restore{slots[slot].tasks};
  worker.start();
  slots[slot].oom = oom_count_of(worker.pid());
  slots[slot].worker = std::move(worker);
  slots[slot].finished_since_start = 0;
  slots[slot].timed_out_task = 0;
  slots[slot].asked.reset();
  ++slots[slot].generation;
  watch_wait.wake();
}

void local_pool::state::worker_died(std::uint32_t slot, std::uint64_t generation, std::vector<chunk_end>& ends) {
  std::unique_lock lock(mutex);
  if (slot >= slots.size() || slots[slot].generation != generation || !slots[slot].worker) return;
  if (stopping) return;  // join() and terminate() end the workers themselves
  auto& s = slots[slot];
  process dead = std::move(*s.worker);
  s.worker.reset();
  dead.join();
  const int code = dead.exitcode().value_or(-1);
  const int pid = dead.pid();
  const bool interrupted = ended_by_interrupt(code);
  // Ctrl-C: the pool's work stops (cancel_unfinished).
  const std::string ending = ending_of(s, code) + what_it_left(dead);
  // What is still in its queue was never taken; what it held besides, it had taken.
  std::vector<std::string> untaken;
  while (auto message = s.tasks.get(std::chrono::nanoseconds{0})) untaken.emplace_back(*message);
  std::set<std::uint64_t> still_queued;
  for (const auto& message : untaken) still_queued.insert(read_at<std::uint64_t>(message, 0));
  const bool took_any = s.finished_since_start > 0;
  const bool started_fine = stamp_of(slot).ready.load() != 0;
  bool lost_any = false;
  std::set<std::uint64_t> teams_touched;
  for (const std::uint64_t id : s.held) {
    if (still_queued.contains(id) || !tasks.contains(id)) continue;
    lost_any = true;
    auto& record = tasks.at(id);
    if (record.team != 0) {
      teams_touched.insert(record.team);
      team_worker_died(id, slot, pid, code, dead.name(), ending, s.timed_out_task == id);
      continue;
    }
    if (cancelled.contains(id)) {  // its job failed already
      forget_skip(slot, id);
      ends.push_back(take_task(id, std::nullopt, std::make_exception_ptr(cancelled_error("cancelled"))));
    } else if (s.timed_out_task == id) {
      const auto seconds = std::chrono::duration<double>(record.timeout.value_or(std::chrono::nanoseconds{0}));
      ends.push_back(take_task(id, std::nullopt, std::make_exception_ptr(timeout_error(
          "the task ran longer than its timeout of " + std::to_string(seconds.count()) + " s; its worker (pid " +
          std::to_string(pid) + ") was killed and replaced"))));
    } else if (auto failure = lost_failure(++record.deaths, interrupted, pid, code, dead.name(),
                                           {record.message, record.chunk, record.job ? record.job->chunks : 1},
                                           ending)) {
      ends.push_back(take_task(id, std::nullopt, failure));
    } else {
      pending.push_front(id);
    }
  }
  for (const std::uint64_t id : s.held) {
    if (!still_queued.contains(id)) share_ended(id);  // it died in it, or had ended it
  }
  s.held.clear();
  for (const auto& message : untaken) s.held.push_back(read_at<std::uint64_t>(message, 0));
  if (interrupted) {
    cancel_unfinished(std::make_exception_ptr(cancelled_error(
        "the pool was interrupted: its worker " + dead.name() + " (pid " + std::to_string(pid) + ") " +
        describe_end(code) + " (as Ctrl-C does), and the pool cancelled the tasks it had not finished")), ends);
  }
  // Workers that die before finishing anything, again and again, would be
  // replaced for ever: give up after a few and fail what is left.
  const bool failed_start = !took_any && !lost_any && !started_fine && code != 0;
  const bool killed = code == -9 || code == -15 || interrupted;
  startup_deaths = failed_start && !killed ? startup_deaths + 1 : (failed_start ? startup_deaths : 0);
  startup_kills = failed_start && killed ? startup_kills + 1 : (failed_start ? startup_kills : 0);
  if (startup_deaths >= startup_deaths_to_give_up || startup_kills >= startup_kills_to_give_up) {
    broken = "the pool's workers keep dying before they finish a task (the last " + describe_end(code) +
             "); is the initializer failing?";
    fail_everything(std::make_exception_ptr(worker_lost_error(pid, code, broken)), ends);
    return;
  }
  bool replaced = false;
  try {
    start_worker(slot);
    for (const auto& message : untaken) s.tasks.put(message, std::nullopt);
    replaced = true;
  } catch (const std::exception& e) {
    std::cerr << "mproc pool: cannot start a worker to replace " << dead.name() << ": " << e.what() << std::endl;
    for (const std::uint64_t id : s.held) pending.push_front(id);
    s.held.clear();
  }
  for (const std::uint64_t team : teams_touched) {
    auto found = teams.find(team);
    if (found == teams.end()) continue;
    if (found->second.has_free_chunks()) give_share(team, found->second, replaced ? std::optional<std::size_t>(slot) : std::nullopt);
    check_team(team, ends);
  }
  dispatch();
}

std::string local_pool::state::ending_of(slot_state& s, int code) {
  std::string ending = describe_end(code);
  if (code != -9 || !s.oom) return ending;
  const auto now = oom_kills_in(s.oom->file);
  if (!now) return ending;
  if (*now > s.oom->kills) {
    ending += ", by the kernel's OOM killer (the oom_kill count of its memory cgroup, in " + s.oom->file +
              ", went from " + std::to_string(s.oom->kills) + " to " + std::to_string(*now) + ")";
  }
  for (auto& other : slots) {  // a kill is told once
    if (other.oom && other.oom->file == s.oom->file) other.oom->kills = std::max(other.oom->kills, *now);
  }
  return ending;
}

std::string local_pool::state::what_it_left(const process& dead) {
  std::string said = dumped_core_of(dead) ? " (it dumped core)" : "";
  const auto lines = last_error_lines_of(dead, 5);
  if (lines.empty()) return said;
  said += "; the last lines it wrote to stderr:";
  for (const auto& line : lines) said += "\n  " + line;
  return said;
}

std::string local_pool::state::lost_task::named() const {
  std::string name;
  try {
    const task_head_parts head = decode_task_head(split_task(message).head);
    if (head.target) name = function_name(resolve_code(*head.target));
  } catch (const std::exception&) {  // nameless, then
  }
  std::string said = name.empty() ? "the task" : "the task " + name;
  if (chunks > 1) said += " (chunk " + std::to_string(chunk + 1) + " of " + std::to_string(chunks) + ")";
  return said;
}

std::exception_ptr local_pool::state::lost_failure(std::size_t deaths, bool interrupted, int pid, int code,
                                                  const std::string& worker, const lost_task& task,
                                                  const std::string& ending) const {
  const std::size_t deaths_to_fail = options.quarantine_after != 0 ? options.quarantine_after : 2;
  if (options.retry_lost_tasks && !interrupted && deaths < deaths_to_fail) return nullptr;
  const std::string how =
      "the pool worker " + worker + " (pid " + std::to_string(pid) + ") running " + task.named() + " " + ending;
  if (options.retry_lost_tasks && options.quarantine_after != 0 && !interrupted) {
    return std::make_exception_ptr(quarantined_error(
        pid, code, "the task killed its worker " + std::to_string(deaths) + " times in a row (the last time, " + how +
                       "); it is quarantined: not run again"));
  }
  return std::make_exception_ptr(worker_lost_error(pid, code, how));
}

void local_pool::state::cancel_unfinished(const std::exception_ptr& why, std::vector<chunk_end>& ends) {
  for (const std::uint64_t id : pending) {
    auto record = tasks.find(id);
    if (record != tasks.end() && record->second.team == 0) ends.push_back(take_task(id, std::nullopt, why));
  }
  std::erase_if(pending, [&](std::uint64_t id) { return !tasks.contains(id); });
  for (std::size_t slot = 0; slot < slots.size(); ++slot) {
    for (const std::uint64_t id : slots[slot].held) {
      auto record = tasks.find(id);
      if (record == tasks.end() || record->second.team != 0 || !cancelled.insert(id).second) continue;
      skip_task(slot, id);
      ends.push_back({record->second.job, record->second.chunk, std::nullopt, why});
    }
  }
  std::vector<std::uint64_t> team_ids;
  for (auto& [id, team] : teams) {
    for (std::uint64_t c = 0; c < team.layout().chunks; ++c) {
      std::uint64_t free = word(team.tag, 0);
      if (team.states()[c].compare_exchange_strong(free, word(team.tag, team_failed))) team.errors[c] = why;
    }
    team_ids.push_back(id);
  }
  for (const std::uint64_t id : team_ids) check_team(id, ends);
  watch_wait.wake();
}

void local_pool::state::fail_everything(const std::exception_ptr& failure, std::vector<chunk_end>& ends) {
  for (auto& [id, record] : tasks) {
    if (record.team == 0) ends.push_back({record.job, record.chunk, std::nullopt, failure});
  }
  for (auto& [id, team] : teams) {
    for (std::size_t c = 0; c < team.job->chunks; ++c) ends.push_back({team.job, c, std::nullopt, failure});
  }
  teams.clear();
  tasks.clear();
  cancelled.clear();
  pending.clear();
  for (auto& s : slots) s.held.clear();
  all_finished.notify_all();
}

}  // namespace mproc::detail
