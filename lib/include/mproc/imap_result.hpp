// The results of a pool's imap and imap_unordered: a range to iterate, each
// result waited for as it is reached.
#pragma once

#include <mproc/detail/pool_imap.hpp>
#include <mproc/detail/pool_tasks.hpp>

#include <cstddef>
#include <exception>
#include <iterator>
#include <memory>
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
      if (owner_->current_error_) std::rethrow_exception(owner_->current_error_);
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

 private:
  bool next_chunk() {
    if (!feed_) return false;
    const auto job = feed_->next();
    if (!job) return false;
    current_error_ = nullptr;
    current_.clear();
    try {
      current_ = detail::chunk_results<R>(*job, 0);
    } catch (...) {  // each item of a failed chunk throws when it is read
      current_error_ = std::current_exception();
    }
    current_count_ = current_error_ ? job->chunk_items[0] : current_.size();
    return true;
  }
  std::unique_ptr<detail::imap_feed> feed_;  // null: a static_assert said why
  std::vector<R> current_;
  std::exception_ptr current_error_;
  std::size_t current_count_ = 0;
};

}  // namespace mproc
