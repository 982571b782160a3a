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
/// task (apply, apply_async, or a map of one chunk) moves the bar as the task
/// reports; a call of several chunks moves it as chunks finish, as without it.
/// Reports closer than 10 ms apart are dropped but the last (done == total),
/// and so is one met by a busy result queue: it never blocks the task. Nothing
/// outside a pool's task.
void report_progress(std::size_t done, std::size_t total) noexcept;

}  // namespace mproc::this_task
