// What feeds a lazy imap: its inputs, read as results are, and the chunks
// in the pool (built in lib/src/pool_imap.cpp).
#pragma once

#include <mproc/detail/asio_waits.hpp>
#include <mproc/detail/pool_core.hpp>

#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <vector>

namespace mproc::detail {

/// What imap and imap_unordered feed a pool with: chunks made from the inputs
/// only as they are needed, at most `buffersize` of them in the pool at a time,
/// so that an endless input range works and memory stays flat. Each chunk is a
/// job of its own. Not a template: `next_chunk` (made by pool.hpp) reads the
/// inputs and encodes.
class imap_feed {
 public:
  /// Fills in the next chunk's task message, its item count and what encoding
  /// it reserved; false once the inputs are exhausted.
  using producer = std::function<bool(std::string& message, std::size_t& items,
                                      std::shared_ptr<handle_outbox>& outbox)>;
  /// `total_items`: the inputs' count for the progress callback, 0 if not known.
  imap_feed(std::shared_ptr<pool_core> pool, producer next_chunk, std::size_t buffersize, bool in_order,
            std::size_t total_items);
  /// Reads the next window of inputs and submits it as one team job (null
  /// once the inputs are exhausted); `continuing` as for pool_core::submit.
  using window_producer = std::function<std::shared_ptr<job_state>(bool continuing)>;
  /// An in-order imap of plain values: `windows` team jobs in the pool at a
  /// time, each a window of the inputs that the workers claim in shared memory
  /// (no message per chunk). Each window's results are read once it is whole.
  imap_feed(std::shared_ptr<pool_core> pool, window_producer next_window, std::size_t windows);
  /// Takes back the chunks no worker has started; those running finish unread.
  ~imap_feed();
  imap_feed(const imap_feed&) = delete;
  imap_feed& operator=(const imap_feed&) = delete;
  /// The next chunk to read, finished (in input order, or as chunks finish);
  /// null at the end. Errors: those of encoding, closed_error once the pool
  /// was joined or terminated.
  std::shared_ptr<job_state> next();
  /// Completes `done` (posted) once next() would not block: the next chunk
  /// (in order, or any one unordered) has finished, or nothing is left.
  void async_wait_next(async_executor executor, async_handler<> done);

 private:
  struct finished_list;
  void top_up(bool continuing = true);
  void top_up_windows(bool continuing);
  std::shared_ptr<pool_core> pool_;
  producer next_chunk_;
  window_producer next_window_;
  std::size_t buffersize_;
  bool in_order_;
  bool exhausted_ = false;
  std::deque<std::shared_ptr<job_state>> in_flight_;
  std::shared_ptr<finished_list> finished_;
  std::exception_ptr failure_;  // thrown once what is in the pool has been read
  std::shared_ptr<progress_share> progress_ = std::make_shared<progress_share>();
};

/// A lazy map's inputs: the range (a view of it, owning an rvalue) and where
/// reading has got to. begin() is called once, so a range that can be read
/// only once works.
template <class View>
class input_source {
 public:
  explicit input_source(View view) : view_(std::move(view)) {}
  /// Up to `n` more inputs, as T.
  template <class T>
  std::vector<T> take(std::size_t n) {
    if (!at_) at_.emplace(std::ranges::begin(view_));
    std::vector<T> part;
    while (part.size() < n && *at_ != std::ranges::end(view_)) {
      part.push_back(static_cast<T>(**at_));
      ++*at_;
    }
    return part;
  }

 private:
  View view_;
  std::optional<std::ranges::iterator_t<View>> at_;
};

}  // namespace mproc::detail
