// The pool's worker side: the loop that takes tasks from a worker's queue, runs
// them, and puts their results (or errors) on the pool's result queue.
#include <mproc/pool.hpp>

#include "launch.hpp"
#include "pool_wire.hpp"
#include "progress_channel.hpp"
#include "remote_failure.hpp"

#include <algorithm>
#include <csignal>
#include <exception>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

namespace mproc::detail {
namespace {

// The run the worker's task thread is in, for this_task::stop_requested().
thread_local const task_stamp* running_stamp = nullptr;
thread_local std::uint64_t running_run = 0;
// The links of a task that may report progress (not a team chunk), for report_progress().
thread_local worker_links* running_links = nullptr;
thread_local std::int64_t last_report_ns = 0;  // this thread's last report_progress(), sent or not
thread_local std::size_t running_item = 0;  // of the chunk's items
thread_local std::size_t running_items = 1;
// The pool's memory_limit_per_child, and whether a task of this worker ran into it.
std::uint64_t memory_limit = 0;
bool hit_memory_limit = false;

// What a task's exception (null: not a std::exception) becomes: a bad_alloc under the hard memory limit is
// the limit's doing, said so (and the worker is replaced after the task).
std::string raised_by(const std::exception* caught) {
  if (memory_limit == 0 || dynamic_cast<const std::bad_alloc*>(caught) == nullptr) return raised_payload(caught);
  hit_memory_limit = true;
  const memory_limit_error limit("the task passed the pool's memory_limit_per_child of " +
                                 std::to_string(memory_limit >> 20) + " MiB: an allocation failed (" + caught->what() +
                                 "), and its worker is replaced");
  return raised_payload(&limit);
}

// A task or a team chunk begins: its start time, then its run number (see task_stamp).
void begin_run(task_stamp& stamp) {
  stamp.started_ns.store(now_ns());
  running_run = stamp.run.fetch_add(1) + 1;
  running_stamp = &stamp;
}

bool skipped(const task_stamp& stamp, std::uint64_t id) {
  return std::any_of(std::begin(stamp.skip), std::end(stamp.skip),
                     [&](const auto& entry) { return entry.load() == id; });
}

struct resolved_head {
  std::uintptr_t entry;  // a task_entry, or a team_chunk for a team share
  std::uintptr_t target;
};

// A worker resolves each head once: finding code addresses walks the loaded
// modules.
resolved_head resolve_head(std::string_view head) {
  static std::unordered_map<std::string, resolved_head> known;  // only the worker's task thread uses it
  auto found = known.find(std::string(head));
  if (found != known.end()) return found->second;
  const task_head_parts parts = decode_task_head(head);
  const resolved_head made{resolve_code(parts.entry), parts.target ? resolve_code(*parts.target) : 0};
  known.emplace(std::string(head), made);
  return made;
}

// Runs one task message; the result message goes to `out`.
void run_task(const task_message_parts& task, std::uint32_t slot, std::string& out) {
  out.clear();  // keeps its memory for the next task (a rank's out is reused)
  out += result_head(task.id, 0, slot, static_cast<std::uint32_t>(task_status::done));
  task_status status = task_status::undecodable_task;
  try {
    const resolved_head how = resolve_head(task.head);
    input_archive in(task.body);
    handle_inbox inbox({});  // shared objects among the arguments attach, not make
    inbox_scope scope(inbox);
    try {
      status = reinterpret_cast<task_entry>(how.entry)(how.target, in, out);
    } catch (const std::exception& e) {
      out.resize(result_head_bytes);
      out += raised_by(&e);
      status = task_status::raised;
    } catch (...) {
      out.resize(result_head_bytes);
      out += raised_payload(nullptr);
      status = task_status::raised;
    }
  } catch (const std::exception& e) {
    out.resize(result_head_bytes);
    out += std::string("cannot read the task: ") + e.what();
    status = task_status::undecodable_task;
  }
  write_at(out, 20, static_cast<std::uint32_t>(status));
}

}  // namespace

namespace {



// The arena of a team job, mapped once per worker and kept for the next jobs.
std::map<std::string, shared_memory> arenas_known;  // only the worker's task thread uses it

const shared_memory& arena_named(const std::string& name) {
  auto& known = arenas_known;
  auto found = known.find(name);
  if (found != known.end()) return found->second;
  if (known.size() >= 4) known.clear();  // arenas of jobs long gone
  return known.emplace(name, shared_memory::attach(name)).first->second;
}

// The error goes out before the chunk is marked failed: the parent waits for
// the error of every failed chunk, and a worker that dies between the two
// leaves the chunk marked with its slot, which the parent then fails itself.
void report_failed_chunk(worker_links& links, chunk_word& state, std::uint32_t tag, std::uint64_t id,
                         std::uint64_t chunk, const std::exception* caught) {
  const bool stopped = this_task::stop_requested();  // what it did is dropped: the parent says why
  std::string error = result_head(id, chunk + 1, links.slot,
                                  static_cast<std::uint32_t>(stopped ? task_status::stopped : task_status::raised));
  if (!stopped) error += raised_by(caught);
  links.results.put(error, std::nullopt);
  state.store(word(tag, team_failed));
}

// Claims a chunk given back after its worker died, if one is left: its index,
// or layout.chunks.
std::uint64_t take_returned(team_layout& layout, chunk_word* states, std::uint32_t tag, std::uint32_t mine) {
  for (std::uint64_t c = 0; c < layout.chunks; ++c) {
    std::uint64_t returned = word(tag, team_returned);
    if (states[c].compare_exchange_strong(returned, word(tag, mine))) {
      layout.returned.fetch_sub(1);
      return c;
    }
  }
  return layout.chunks;
}

// A worker's share of a team job: claims chunks until none is left (or its
// task budget is spent); a chunk that throws is reported by itself. The
// share's end is reported in `out`. Returns the chunks run.
std::uint64_t run_team_share(const task_message_parts& task, worker_links& links, task_stamp& stamp,
                             std::uint64_t budget, std::string& out) {
  const auto id = task.id;
  const resolved_head how = resolve_head(task.head);
  const auto run_chunk = reinterpret_cast<team_chunk>(how.entry);
  const auto tag = task.tag;
  out = result_head(id, 0, links.slot, static_cast<std::uint32_t>(task_status::done));
  std::byte* arena = nullptr;
  try {
    arena = arena_named(std::string(task.body)).bytes().data();
  } catch (const not_found_error&) {
    return 1;  // a share of a job that ended, and whose arena is gone
  }
  auto& layout = *reinterpret_cast<team_layout*>(arena);
  auto* states = reinterpret_cast<chunk_word*>(arena + layout.states_at);
  const auto mine = static_cast<std::uint32_t>(links.slot + 1);
  std::uint64_t ran = 0;
  std::uint64_t scan = 0;  // once the counter has passed the end: chunks given back after a death
  // Many small chunks are taken from the counter 16 at a time (one cache line
  // of state words): one contended atomic per 16 chunks, not per chunk. Each
  // chunk is still claimed on its own just before it runs.
  const std::uint64_t step = layout.chunks >= 1024 ? 16 : 1;
  std::uint64_t next = 0;
  std::uint64_t end = 0;
  while (budget == 0 || ran < budget) {
    std::uint64_t chunk = layout.chunks;
    std::uint64_t free = word(tag, 0);
    if (layout.returned.load(std::memory_order_relaxed) != 0) chunk = take_returned(layout, states, tag, mine);
    if (chunk < layout.chunks) {
      free = word(tag, mine);  // claimed already
    } else {
      if (next == end) {
        next = layout.next_chunk.fetch_add(step);
        end = std::min(next + step, std::max<std::uint64_t>(layout.chunks, next));
      }
      chunk = next < end ? next++ : layout.chunks;
      if (chunk >= layout.chunks) {
        while (scan < layout.chunks && states[scan].load() != word(tag, 0)) ++scan;
        if (scan >= layout.chunks) {
          if (layout.returned.load() != 0) continue;  // given back meanwhile
          break;
        }
        chunk = scan;
      }
    }
    if (!states[chunk].compare_exchange_strong(free, word(tag, mine))) continue;
    const std::uint64_t first = chunk * layout.chunksize;
    const std::uint64_t count = std::min(layout.chunksize, layout.items - first);
    begin_run(stamp);
    bool returned = false;
    try {
      run_chunk(how.target, arena + layout.items_at + first * layout.item_size,
                arena + layout.results_at + first * layout.result_size, count);
      returned = true;
    } catch (const std::exception& e) {
      report_failed_chunk(links, states[chunk], tag, id, chunk, &e);
    } catch (...) {
      report_failed_chunk(links, states[chunk], tag, id, chunk, nullptr);
    }
    if (returned && this_task::stop_requested()) {
      report_failed_chunk(links, states[chunk], tag, id, chunk, nullptr);  // reported as stopped
    } else if (returned) {
      states[chunk].store(word(tag, team_done), std::memory_order_release);
    }
    ++ran;
  }
  return std::max<std::uint64_t>(ran, 1);
}

}  // namespace

void run_worker(worker_links& links) {
  // A worker ends with _exit: the arenas it keeps must be let go first, or the
  // last of an arena's users may be this worker on its way out, and its name
  // would stay in /dev/shm until the resource tracker's sweep.
  struct let_go {
    ~let_go() { arenas_known.clear(); }
  } arenas_let_go;
  auto& stamp = reinterpret_cast<task_stamp*>(links.stamps.bytes().data())[links.slot];
  if (links.memory_limit != 0 && limit_memory(links.memory_limit)) memory_limit = links.memory_limit;
  stamp.ready.store(1);  // a death from now on is not a failing start-up
  std::string out;
  for (std::uint64_t done = 0; links.max_tasks == 0 || done < links.max_tasks;) {
    std::optional<std::string_view> task;
    try {
      task = links.tasks.get(std::nullopt);
    } catch (const closed_error&) {
      return;  // the pool is closing
    }
    stamp.started_ns.store(now_ns());
    task_message_parts parts;
    try {
      parts = split_task(*task);
    } catch (const serialization_error& e) {  // not from our pool: said, and the next one read
      out = result_head(0, 0, links.slot, static_cast<std::uint32_t>(task_status::undecodable_task)) + e.what();
      links.results.put(out, std::nullopt);
      continue;
    }
    const auto pass_by = [&] {
      out = result_head(parts.id, 0, links.slot, static_cast<std::uint32_t>(task_status::stopped));
    };
    if (parts.kind == team_kind) {
      stamp.task.store(parts.id);
      done += run_team_share(parts, links, stamp, links.max_tasks == 0 ? 0 : links.max_tasks - done, out);
    } else if (skipped(stamp, parts.id)) {
      // Cancelled before this worker reached it: passed by without being shown
      // as running, since the pool's watch takes a cancelled task shown there
      // for one that runs and (with no stop_grace) kills the worker.
      pass_by();
    } else {
      stamp.task.store(parts.id);
      begin_run(stamp);
      if (skipped(stamp, parts.id)) {  // cancelled just as it was shown: passed by all the same
        pass_by();
      } else {
        running_links = &links;
        run_task(parts, links.slot, out);
        running_links = nullptr;
        if (this_task::stop_requested()) write_at(out, 20, static_cast<std::uint32_t>(task_status::stopped));
        ++done;
      }
    }
    running_stamp = nullptr;
    stamp.task.store(0);
    links.results.put(out, std::nullopt);
    // Ends as after maxtasksperchild: the pool starts another in its place.
    if (links.max_memory != 0 && resident_bytes() > links.max_memory) return;
    if (hit_memory_limit) return;  // its heap may be in pieces: a fresh worker takes over
  }
}

void begin_worker() {
  if (std::signal(SIGINT, SIG_DFL) == SIG_IGN) std::signal(SIGINT, SIG_IGN);
}

void pool_worker(worker_links links) {
  begin_worker();
  run_worker(links);
}

void run_task_message(std::string_view message, std::uint32_t slot, std::string& out) {
  run_task(split_task(message), slot, out);
}

task_head_parts decode_task_head(std::string_view head) {
  try {
    input_archive in(head);
    task_head_parts parts;
    bool has_target = false;
    in(parts.entry, has_target);
    if (has_target) in(parts.target.emplace());
    return parts;
  } catch (const cereal::Exception& e) {
    throw serialization_error(std::string("the task's head does not decode: ") + e.what());
  }
}

void item_started(std::size_t index, std::size_t count) noexcept {
  running_item = index;
  running_items = count;
}

}  // namespace mproc::detail

namespace mproc::this_task {

bool stop_requested() noexcept {
  using namespace detail;
  return running_stamp != nullptr && running_stamp->stop.load(std::memory_order_relaxed) == running_run;
}

}  // namespace mproc::this_task

namespace mproc {

void report_progress(std::size_t done, std::size_t total) noexcept {
  using namespace detail;
  const std::int64_t now = now_ns();
  if (done < total && now - last_report_ns < 10'000'000) return;  // a bar needs no more
  last_report_ns = now;
  if (running_links == nullptr) {  // not a pool's task: a plain process's report, if its parent asked
    report_to_parent(done, total);
    return;
  }
  if (running_items > 1 && total > 0) {  // how far the chunk is: the items before this one, and this one's part
    done = running_item * total + std::min(done, total);
    total *= running_items;
  }
  try {
    std::string notice = result_head(running_stamp->task.load(), done, running_links->slot, progress_notice);
    notice.append(reinterpret_cast<const char*>(&total), sizeof total);
    (void)running_links->results.put(notice, std::chrono::nanoseconds{0});  // never waits: a report may be lost
  } catch (...) {  // a report is advice: the task goes on
  }
}

}  // namespace mproc
