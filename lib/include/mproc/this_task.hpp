// What a task running in a pool worker can ask about itself.
//
//   void crunch(std::string path) {
//     for (auto& block : blocks_of(path)) {
//       if (mproc::this_task::stop_requested()) return;  // past its task_timeout, or cancelled
//       work_on(block);
//     }
//   }
#pragma once

#include <cstddef>

namespace mproc::this_task {

/// True once the pool asked the running task to stop: it ran past its
/// task_timeout, or its async_result was cancelled. A task that returns (or
/// throws) then is not a success: its call fails with timeout_error or
/// cancelled_error, and its worker goes on to the next task; one that has not
/// returned within the pool's stop_grace has its worker killed and replaced.
/// False outside a pool's task (in the main process, in a plain process).
bool stop_requested() noexcept;

}  // namespace mproc::this_task

namespace mproc {

/// Tells the pool's progress callback (pool_options::progress) how far the
/// running task is: `done` of `total`, in the task's own units. A call of one
/// task (apply, apply_async, a map of one item) moves the bar in those units.
/// In a larger call (a map, an imap) the bar counts items: the finished ones,
/// plus each running task's part of its item, added up within its chunk and
/// rounded down to whole items (so a chunk of 10 items whose 4th task is half
/// done counts 3; a chunk of one item counts once it ends). The bar never goes
/// back. Reports closer than 10 ms apart are dropped but the last (done ==
/// total), and so is one met by a busy result queue: it never blocks the task.
/// Outside a pool's task, in a process whose parent set
/// process_options::progress: that callback gets the report as it is; else
/// nothing happens.
void report_progress(std::size_t done, std::size_t total) noexcept;

}  // namespace mproc::this_task
