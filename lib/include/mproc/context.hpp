// Python's multiprocessing contexts: an object with the same names as the
// module, whose processes and pools use one start method, whatever the
// program's default.
//
//   auto ctx = mproc::get_context(mproc::start_method::fork);   // get_context('fork')
//   mproc::pool workers = ctx.pool(4);                          // ctx.Pool(4)
//   auto q = ctx.queue<int>();                                  // ctx.Queue()
//   mproc::process p = ctx.process(worker, q);                  // ctx.Process(target=worker, args=(q,))
//
// Only processes and pools depend on the start method; the other objects are
// the same as the module's and are here so that code written against a
// context needs nothing else.
#pragma once

#include <mproc/pipe.hpp>
#include <mproc/pool.hpp>
#include <mproc/process.hpp>
#include <mproc/queue.hpp>
#include <mproc/shared.hpp>
#include <mproc/start_method.hpp>
#include <mproc/sync.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

namespace mproc {

class context {
 public:
  /// Errors: process_error if this platform has no such start method.
  explicit context(start_method method);

  start_method get_start_method() const noexcept { return method_; }

  /// A process of this context's start method (an explicit options.method wins).
  template <class F, class... Args>
    requires detail::possible_target<F>
  mproc::process process(F target, Args&&... args) const {
    return mproc::process(process_options{.method = method_}, std::move(target), std::forward<Args>(args)...);
  }
  template <class F, class... Args>
  mproc::process process(process_options options, F target, Args&&... args) const {
    if (!options.method) options.method = method_;
    return mproc::process(std::move(options), std::move(target), std::forward<Args>(args)...);
  }

  /// A pool whose workers start with this context's method (unless options say otherwise).
  mproc::pool pool(int processes = 0) const { return pool(pool_options{.processes = processes}); }
  mproc::pool pool(pool_options options) const {
    if (!options.method) options.method = method_;
    return mproc::pool(std::move(options));
  }

  template <class T>
  mproc::queue<T> queue(std::size_t maxsize = 0) const {
    return mproc::queue<T>(maxsize);
  }
  template <class T>
  mproc::joinable_queue<T> joinable_queue(std::size_t maxsize = 0) const {
    return mproc::joinable_queue<T>(maxsize);
  }
  std::pair<connection, connection> pipe(bool duplex = true) const { return mproc::pipe(duplex); }

  mproc::lock lock() const { return {}; }
  mproc::rlock rlock() const { return {}; }
  mproc::semaphore semaphore(std::int64_t value = 1) const { return mproc::semaphore(value); }
  mproc::bounded_semaphore bounded_semaphore(std::int64_t value = 1) const {
    return mproc::bounded_semaphore(value);
  }
  mproc::event event() const { return {}; }
  mproc::condition condition() const { return mproc::condition(); }
  mproc::barrier barrier(std::size_t parties) const { return mproc::barrier(parties); }

  template <class T>
  mproc::value<T> value(T initial = T{}) const {
    return mproc::value<T>(initial);
  }
  template <class T>
  mproc::array<T> array(std::size_t n) const {
    return mproc::array<T>(n);
  }

 private:
  start_method method_;
};

/// A context for `method` (Python's get_context('fork')). Errors: process_error
/// if this platform has no such method.
inline context get_context(start_method method) { return context(method); }
/// A context for the program's default start method now.
inline context get_context() { return context(get_start_method()); }

}  // namespace mproc
