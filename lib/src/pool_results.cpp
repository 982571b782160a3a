// The result thread: takes results and notices of dead workers from the result
// queue, finishes the tasks, and hands out the next ones.
#include "pool_engine.hpp"

namespace mproc::detail {

void local_pool::state::run_results() {
  for (;;) {
    try {
      if (!take_one_result()) return;
    } catch (const std::exception& e) {
      std::cerr << "mproc pool: the result thread met an error: " << e.what() << std::endl;
    }
  }
}

bool local_pool::state::take_one_result() {
  std::string_view message;
  try {
    message = *results.get(std::nullopt);
  } catch (const std::exception& e) {
    std::cerr << "mproc pool: the result queue failed: " << e.what() << std::endl;
    return false;
  }
  const auto result = split_result(message);
  if (!result) {
    std::cerr << "mproc pool: a result message of " << message.size() << " bytes was dropped" << std::endl;
    return true;
  }
  if (result->kind == stop_notice) return false;
  if (result->kind == progress_notice) {
    task_progress(result->task, result->aux, result->payload);
    return true;
  }
  std::vector<chunk_end> ends;
  if (result->kind == death_notice) {
    worker_died(result->slot, result->aux, ends);
  } else {
    task_done(result->task, result->aux, result->slot, static_cast<task_status>(result->kind), result->payload,
              ends);
  }
  finish(ends);
  return true;
}

void local_pool::state::task_done(std::uint64_t id, std::uint64_t aux, std::uint32_t slot, task_status status,
               std::string_view payload, std::vector<chunk_end>& ends) {
  std::optional<std::string> result;
  std::exception_ptr failure = task_failure(status, payload);
  if (!failure && status != task_status::stopped) result.emplace(payload);
  std::scoped_lock lock(mutex);
  if (status == task_status::stopped) failure = stopped_failure(id);
  auto record = tasks.find(id);
  const std::uint64_t team = record == tasks.end() ? 0 : record->second.team;
  if (team != 0 && aux != 0) {  // a chunk of a team job failed; the share goes on
    auto found = teams.find(team);
    if (found != teams.end() && aux - 1 < found->second.errors.size()) {
      found->second.errors[aux - 1] = failure;
      check_team(team, ends);  // it may have waited for this message alone
    }
    return;
  }
  if (slot < slots.size()) {
    forget_skip(slot, id);
    auto& held = slots[slot].held;
    held.erase(std::remove(held.begin(), held.end(), id), held.end());
    ++slots[slot].finished_since_start;
  }
  share_ended(id);
  startup_deaths = 0;
  startup_kills = 0;
  if (team != 0) {
    tasks.erase(record);
    // A share ends with chunks still free when its worker reached
    // maxtasksperchild: another worker takes them on.
    auto found = teams.find(team);
    if (found != teams.end() && found->second.has_free_chunks()) give_share(team, found->second, std::nullopt);
    check_team(team, ends);
  } else if (record != tasks.end()) {
    ends.push_back(take_task(id, std::move(result), failure));
  }
  dispatch();
}

// The task of a one-task call moves the bar in its own units; one of a larger
// job (or of an imap) adds its part of its chunk's items to the items finished.
void local_pool::state::task_progress(std::uint64_t id, std::uint64_t done, std::string_view payload) {
  if (!options.progress || payload.size() != sizeof(std::uint64_t)) return;
  const auto of = read_at<std::uint64_t>(payload, 0);
  std::shared_ptr<job_state> job;
  std::size_t chunk = 0;
  {
    std::scoped_lock lock(mutex);
    auto record = tasks.find(id);
    if (record == tasks.end() || cancelled.contains(id)) return;
    job = record->second.job;
    chunk = record->second.chunk;
  }
  std::size_t shown = 0;
  std::size_t total = 0;
  {
    std::scoped_lock lock(job->mutex);
    if (chunk >= job->chunks || job->results[chunk] || job->errors[chunk]) return;  // finished meanwhile
    if (!job->progress) {
      shown = done;
      total = of;
    } else {
      const auto count = job->progress->chunk_reported(job.get(), chunk, job->chunk_items[chunk], done, of);
      if (!count) return;  // less than an item's worth more
      shown = *count;
      total = job->progress->total;
    }
  }
  guarded("the progress callback", [&] { options.progress(shown, total); });
}

std::exception_ptr local_pool::state::stopped_failure(std::uint64_t id) const {
  if (cancelled.contains(id)) return std::make_exception_ptr(cancelled_error("the task was cancelled while it ran"));
  auto record = tasks.find(id);
  const auto limit = record == tasks.end() ? std::nullopt : record->second.timeout;
  const auto seconds = std::chrono::duration<double>(limit.value_or(std::chrono::nanoseconds{0}));
  return std::make_exception_ptr(timeout_error(
      "the task ran past its timeout of " + std::to_string(seconds.count()) +
      " s and was asked to stop; it returned within the pool's stop_grace, and its worker goes on"));
}

}  // namespace mproc::detail
