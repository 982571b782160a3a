// The results of a pool's imap and imap_unordered: a range to iterate, each
// result waited for as it is reached.
#pragma once

#include <mproc/detail/asio_waits.hpp>
#include <mproc/detail/pool_imap.hpp>
#include <mproc/detail/pool_tasks.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <vector>

namespace mproc {

/// The lazy results of imap and imap_unordered: an input range whose items are
/// the results, waited for one by one. Dereferencing a failed task's result
/// throws what it failed with.
template <class R>
class imap_result {
 public:
  class iterator {
   public:
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(imap_result* owner) : owner_(owner) { advance(); }
    /// Errors: what the item's task failed with (the iterator can still go on).
    R& operator*() const {
      owner_->rethrow_if_failed(index_);
      return owner_->current_[index_];
    }
    iterator& operator++() {
      ++index_;
      advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return owner_ == nullptr; }

   private:
    void advance() {
      while (owner_ != nullptr && index_ >= owner_->current_count_) {
        index_ = 0;
        if (!owner_->next_chunk()) owner_ = nullptr;
      }
    }
    imap_result* owner_ = nullptr;
    std::size_t index_ = 0;
  };

  explicit imap_result(std::unique_ptr<detail::imap_feed> feed) : feed_(std::move(feed)) {}
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

  /// The next result without blocking a thread (Asio), for a coroutine's
  /// `while (auto r = co_await results.async_next(ex, use_awaitable))`:
  /// `token` completes on `where` (an executor or io_context) with
  /// `(std::exception_ptr, std::optional<R>)`: the result, none after the
  /// last, or what its task failed with (the next call goes on). Cancellable
  /// while it waits; a cancelled wait takes no result. The imap_result must
  /// outlive the wait; iterate it with begin() or with async_next, not both.
  template <class ExecutorOrContext, class Token>
  auto async_next(ExecutorOrContext&& where, Token&& token) {
    return boost::asio::async_initiate<Token, void(std::exception_ptr, std::optional<R>)>(
        [this](auto handler, detail::async_executor executor) {
          auto deliver = detail::make_then_handler(std::move(handler), [this](auto done, std::exception_ptr failure) {
            std::optional<R> item;
            if (!failure) {
              try {
                item = take_next();
              } catch (...) {
                failure = std::current_exception();
              }
            }
            std::move(done)(failure, std::move(item));
          });
          if (next_index_ < current_count_ || !feed_) {
            detail::post_completion(std::move(executor), std::move(deliver), nullptr);
          } else {
            feed_->async_wait_next(std::move(executor), std::move(deliver));
          }
        },
        token, detail::executor_of(where));
  }

 private:
  // The next result for async_next, whose wait said the next chunk is there.
  std::optional<R> take_next() {
    while (next_index_ >= current_count_) {
      next_index_ = 0;
      if (!next_chunk()) {
        current_count_ = 0;
        return std::nullopt;
      }
    }
    const std::size_t at = next_index_++;
    rethrow_if_failed(at);
    return std::move(current_[at]);
  }

  void rethrow_if_failed(std::size_t at) const {
    if (current_error_) std::rethrow_exception(current_error_);
    if (!item_errors_.empty() && item_errors_[at]) std::rethrow_exception(item_errors_[at]);
  }

  bool next_chunk() {
    if (!feed_) return false;
    const auto job = feed_->next();
    if (!job) return false;
    current_error_ = nullptr;
    item_errors_.clear();
    current_.clear();
    if constexpr (detail::plain_value<R>) {
      if (!job->arena.closed()) {
        take_window(*job);
        return true;
      }
    }
    try {
      current_ = detail::chunk_results<R>(*job, 0);
    } catch (...) {  // each item of a failed chunk throws when it is read
      current_error_ = std::current_exception();
    }
    current_count_ = current_error_ ? job->chunk_items[0] : current_.size();
    return true;
  }
  // A window of an imap of plain values (a team job): its results are in its
  // arena, in order, once it is whole; each chunk may have failed alone.
  void take_window(detail::job_state& job) {
    detail::wait_for_job(job, std::nullopt);
    current_.resize(job.items);
    std::memcpy(current_.data(), job.arena.bytes().data() + job.results_at, job.items * sizeof(R));
    current_count_ = job.items;
    for (std::size_t chunk = 0, first = 0; chunk < job.chunks; first += job.chunk_items[chunk++]) {
      if (!job.errors[chunk]) continue;
      if (item_errors_.empty()) item_errors_.resize(job.items);
      std::fill_n(item_errors_.begin() + static_cast<std::ptrdiff_t>(first), job.chunk_items[chunk], job.errors[chunk]);
    }
  }

  std::unique_ptr<detail::imap_feed> feed_;  // null: a static_assert said why
  std::vector<R> current_;
  std::exception_ptr current_error_;               // every item of the chunk in hand failed with it
  std::vector<std::exception_ptr> item_errors_;    // or these items (a window): empty if none failed
  std::size_t current_count_ = 0;
  std::size_t next_index_ = 0;  // async_next's place in the chunk in hand
};

}  // namespace mproc
