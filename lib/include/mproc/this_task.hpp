// What a task running in a pool worker can ask about itself.
//
//   void crunch(std::string path) {
//     for (auto& block : blocks_of(path)) {
//       if (mproc::this_task::stop_requested()) return;  // past its task_timeout, or cancelled
//       work_on(block);
//     }
//   }
#pragma once

namespace mproc::this_task {

/// True once the pool asked the running task to stop: it ran past its
/// task_timeout, or its async_result was cancelled. A task that returns (or
/// throws) then is not a success: its call fails with timeout_error or
/// cancelled_error, and its worker goes on to the next task; one that has not
/// returned within the pool's stop_grace has its worker killed and replaced.
/// False outside a pool's task (in the main process, in a plain process).
bool stop_requested() noexcept;

}  // namespace mproc::this_task
