// How a chunk's end reaches its job (its result or failure, the progress
// callback, waiters and callbacks): the same for every pool engine.
#pragma once

#include <mproc/detail/pool_tasks.hpp>

#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mproc::detail {

// A chunk's end, applied to its job outside the engine's lock.
struct chunk_end {
  std::shared_ptr<job_state> job;
  std::size_t chunk = 0;
  std::optional<std::string> result;
  std::exception_ptr failure;
  // A team job's run of chunks [chunk, through) that all succeeded (their
  // results are in its arena), applied under one lock; 0: `chunk` alone.
  std::size_t through = 0;
};

using progress_callback = std::function<void(std::size_t done, std::size_t total)>;

/// Applies `end` to its job (nothing if that chunk has finished already):
/// progress first, then the result, waiters and the job's callbacks. True if
/// this made the job complete.
bool finish_chunk(chunk_end& end, const progress_callback& progress);

/// What a task that ended with `status` (not done) failed with; null for done.
std::exception_ptr task_failure(task_status status, std::string_view payload);

/// Runs `f`, telling stderr what it threw: user code on an engine's thread.
template <class F>
void guarded(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::cerr << "mproc pool: " << what << " threw: " << e.what() << std::endl;
  } catch (...) {
    std::cerr << "mproc pool: " << what << " threw" << std::endl;
  }
}

}  // namespace mproc::detail
