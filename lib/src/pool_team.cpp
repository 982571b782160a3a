// Team jobs: a map of plain values in one shared arena, whose chunks the workers
// claim themselves; what a dead worker held of one; a finished team job.
#include "pool_engine.hpp"

namespace mproc::detail {
namespace {

constexpr std::size_t align64(std::size_t n) { return (n + 63) & ~std::size_t{63}; }

}  // namespace

std::shared_ptr<job_state> local_pool::submit_team(const std::string& head, const void* items, std::size_t count,
                                                  std::size_t item_size, std::size_t result_size,
                                                  std::size_t chunksize, std::optional<std::chrono::nanoseconds> timeout,
                                                  bool window, bool continuing) {
  auto& st = *state_;
  auto job = std::make_shared<job_state>();
  const std::size_t chunks = count == 0 ? 0 : (count + chunksize - 1) / chunksize;
  job->chunks = chunks;
  job->items = count;
  for (std::size_t c = 0; c < chunks; ++c) job->chunk_items.push_back(std::min(chunksize, count - c * chunksize));
  job->results.resize(chunks);
  job->errors.resize(chunks);
  std::scoped_lock lock(st.mutex);
  st.check_open(continuing, {});
  if (chunks == 0) return job;
  if (window) job->cancel = through_gate(st.gate, &state::take_back_team_chunks);
  const std::size_t states_at = align64(sizeof(team_layout));
  const std::size_t items_at = align64(states_at + chunks * sizeof(chunk_word));
  const std::size_t results_at = align64(items_at + count * item_size);
  team_job team;
  team.arena = st.arena_for(results_at + count * result_size);
  std::byte* arena = team.arena.bytes().data();
  auto& layout = *new (arena) team_layout{};
  layout.chunks = chunks;
  layout.items = count;
  layout.chunksize = chunksize;
  layout.states_at = states_at;
  layout.items_at = items_at;
  layout.results_at = results_at;
  layout.item_size = item_size;
  layout.result_size = result_size;
  const std::uint64_t team_id = st.next_task++;
  team.tag = static_cast<std::uint32_t>(team_id);
  auto* states = reinterpret_cast<chunk_word*>(arena + states_at);
  for (std::size_t c = 0; c < chunks; ++c) new (&states[c]) chunk_word(word(team.tag, 0));
  std::memcpy(arena + items_at, items, count * item_size);
  job->arena = team.arena;
  job->results_at = results_at;
  team.job = job;
  team.timeout = timeout ? timeout : st.options.task_timeout;
  team.errors.resize(chunks);
  team.share = task_message_head(head, team.arena.name().size());
  team.share += team.arena.name();
  write_at(team.share, 8, team_kind);
  write_at(team.share, 12, team.tag);
  auto& stored = st.teams.emplace(team_id, std::move(team)).first->second;
  bool given = false;
  for (std::size_t slot = 0; slot < st.slots.size(); ++slot) {
    if (!st.slots[slot].worker) continue;  // being replaced: the others claim its part
    st.give_share(team_id, stored, slot);
    given = true;
  }
  if (!given) st.give_share(team_id, stored, std::nullopt);
  return job;
}

shared_memory local_pool::state::arena_for(std::size_t bytes) {
  for (auto it = spare_arenas.begin(); it != spare_arenas.end(); ++it) {
    const std::size_t size = it->arena.size();
    if (it->reusable() && size >= bytes && size <= 4 * bytes + (1 << 20)) {
      shared_memory reused = std::move(it->arena);
      spare_arenas.erase(it);
      return reused;
    }
  }
  return shared_memory::create(bytes);
}

void local_pool::state::give_share(std::uint64_t team, team_job& t, std::optional<std::size_t> slot) {
  const std::uint64_t id = next_task++;
  tasks.emplace(id, task_record{t.job, 0, t.share, t.timeout, false, team});
  if (!slot || !give(*slot, id)) pending.push_back(id);
}

void local_pool::state::check_team(std::uint64_t team, std::vector<chunk_end>& ends) {
  auto found = teams.find(team);
  if (found == teams.end()) return;
  team_job& t = found->second;
  const std::uint64_t chunks = t.layout().chunks;
  for (std::uint64_t c = 0; c < chunks; ++c) {
    const std::uint32_t state = t.state(c);
    if (state != team_done && state != team_failed) return;
    // A chunk is marked failed before its error message comes (another
    // worker's end of share can come first): wait for the message.
    if (state == team_failed && !t.errors[c]) return;
  }
  // Runs of done chunks go as one end each: a map of 10,000 one-item chunks
  // was finished one lock and one job reference per chunk, after the workers.
  for (std::uint64_t c = 0; c < chunks;) {
    if (t.state(c) == team_done) {
      std::uint64_t through = c + 1;
      while (through < chunks && t.state(through) == team_done) ++through;
      ends.push_back({t.job, c, std::string(), nullptr, through});
      c = through;
    } else {
      auto failure = t.errors[c] ? t.errors[c] : std::make_exception_ptr(error("the task failed"));
      ends.push_back({t.job, c, std::nullopt, failure});
      ++c;
    }
  }
  spare_arena spare{t.arena, t.job, {}};
  for (auto it = tasks.begin(); it != tasks.end();) {  // shares not run yet: nothing left for them
    if (it->second.team != team) {
      ++it;
      continue;
    }
    for (const auto& s : slots) {
      if (std::find(s.held.begin(), s.held.end(), it->first) != s.held.end()) spare.shares_out.insert(it->first);
    }
    it = tasks.erase(it);
  }
  if (spare_arenas.size() >= 2) spare_arenas.erase(spare_arenas.begin());
  spare_arenas.push_back(std::move(spare));
  teams.erase(found);
  if (tasks.empty()) all_finished.notify_all();
}

// A share given to a worker has ended (or its worker has died): the arena of
// its job, if that job has finished, may be reused once no other share is out.
void local_pool::state::share_ended(std::uint64_t id) {
  for (auto& spare : spare_arenas) spare.shares_out.erase(id);
}

// The chunks of a team job that no worker has claimed fail with
// cancelled_error, and workers pass them by; those claimed run to their end.
// True if every chunk was taken back.
bool local_pool::state::take_back_team_chunks(job_state& job) {
  std::vector<chunk_end> ends;
  bool all = true;
  {
    std::scoped_lock lock(mutex);
    auto found = std::find_if(teams.begin(), teams.end(), [&](const auto& t) { return t.second.job.get() == &job; });
    if (found == teams.end()) return false;  // finished
    team_job& t = found->second;
    const auto cancelled = std::make_exception_ptr(cancelled_error("the task was cancelled before it started"));
    for (std::uint64_t c = 0; c < t.layout().chunks; ++c) {
      std::uint64_t free = word(t.tag, 0);
      if (t.states()[c].compare_exchange_strong(free, word(t.tag, team_failed))) {
        t.errors[c] = cancelled;
      } else {
        all = false;
      }
    }
    check_team(found->first, ends);
  }
  finish(ends);
  return all;
}

void local_pool::state::team_worker_died(std::uint64_t share, std::uint32_t slot, int pid, int code,
                                        const std::string& name, const std::string& ending, bool timed_out) {
  auto record = tasks.find(share);
  if (record == tasks.end()) return;
  const std::uint64_t team = record->second.team;
  tasks.erase(record);
  auto found = teams.find(team);
  if (found == teams.end()) return;
  team_job& t = found->second;
  for (std::uint64_t c = 0; c < t.layout().chunks; ++c) {
    if (t.state(c) != slot + 1) continue;
    if (timed_out) {
      t.errors[c] = std::make_exception_ptr(timeout_error(
          "the task ran longer than its timeout; its worker (pid " + std::to_string(pid) + ") was killed and replaced"));
      t.set_state(c, team_failed);
    } else if (auto failure = lost_failure(++t.deaths[c], ended_by_interrupt(code), pid, code, name,
                                           {t.share, c, t.layout().chunks}, ending)) {
      t.errors[c] = failure;
      t.set_state(c, team_failed);
    } else {
      // Marked as given back, not as free: workers claim such chunks before
      // any new one, so the retry runs now, not after all the others
      // (where the next kill would find it).
      t.layout().returned.fetch_add(1);
      t.set_state(c, team_returned);
    }
  }
}

}  // namespace mproc::detail
