// Shared values: Python's Value and Array.
//
//   mproc::value<int> counter;                 // zero-initialised, with its own lock
//   mproc::process p(add_many, counter);       // the child shares it
//   { std::scoped_lock hold(counter.get_lock()); counter.ref() += 1; }
//   int now = counter.get();
//
//   mproc::array<double> samples(1000);        // 1000 zeros
//   mproc::array<int> some{1, 2, 3};          // Python's Array('i', [1, 2, 3])
//   mproc::atomic_value<std::int64_t> hits;    // no lock: atomic operations
//   hits.fetch_add(1);
#pragma once

#include <mproc/shared_memory.hpp>
#include <mproc/sync.hpp>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <ranges>
#include <type_traits>
#include <vector>

namespace mproc {

/// Tells a constructor to take its values from a range (C++23's std::from_range).
struct from_range_t {
  explicit from_range_t() = default;
};
inline constexpr from_range_t from_range{};

namespace detail {

/// True while a child decodes its arguments: objects made then are
/// placeholders that load() replaces, and must not make shared memory.
bool decoding_arguments() noexcept;

/// A block of `bytes`, made now unless decoding_arguments().
shared_memory make_block_for(std::size_t bytes, commit data = commit::at_once);

/// Where a block's T is; nullptr for an empty block.
template <class T>
T* data_of(const shared_memory& block) {
  return block.closed() ? nullptr : reinterpret_cast<T*>(block.bytes().data());
}

}  // namespace detail

/// A T in shared memory, with a lock (Python's Value). get() and set() take the
/// lock; ref() gives the T itself, for updates made under get_lock().
template <class T>
  requires std::is_trivially_copyable_v<T>
class value {
 public:
  explicit value(T initial = T{}) : block_(detail::make_block_for(sizeof(T))), at_(detail::data_of<T>(block_)) {
    if (at_ != nullptr) std::memcpy(at_, &initial, sizeof(T));
  }

  T get() const {
    std::scoped_lock hold(lock_);
    return ref();
  }
  void set(const T& next) {
    std::scoped_lock hold(lock_);
    ref() = next;
  }
  /// The T in shared memory. Hold get_lock() while using it.
  T& ref() const { return *at_; }
  mutex& get_lock() const { return lock_; }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(block_, lock_);
    at_ = detail::data_of<T>(block_);
  }

 private:
  shared_memory block_;
  T* at_;  // into block_, kept for the hot path
  mutable mutex lock_;
};

/// `n` values of T in shared memory, with a lock (Python's Array).
template <class T>
  requires std::is_trivially_copyable_v<T>
class array {
 public:
  explicit array(std::size_t n = 0) : block_(detail::make_block_for(std::max<std::size_t>(n, 1) * sizeof(T))), size_(n) {}
  /// The given values (Python's Array('i', [1, 2, 3])): mproc::array<int>{1, 2, 3}.
  array(std::initializer_list<T> values) : array(values.size()) { copy_in(values); }
  /// The values of a sized range: mproc::array<double>(mproc::from_range, samples).
  template <std::ranges::sized_range Range>
    requires std::convertible_to<std::ranges::range_reference_t<Range>, T>
  array(from_range_t, Range&& values) : array(static_cast<std::size_t>(std::ranges::size(values))) {
    copy_in(values);
  }

  std::size_t size() const noexcept { return size_; }
  /// Element access without the lock; hold get_lock() for consistent updates.
  T& operator[](std::size_t i) const { return data()[i]; }
  T* data() const { return reinterpret_cast<T*>(block_.bytes().data()); }
  /// A copy of every element, taken under the lock.
  std::vector<T> to_vector() const {
    std::scoped_lock hold(lock_);
    return std::vector<T>(data(), data() + size_);
  }
  mutex& get_lock() const { return lock_; }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(block_, lock_, size_);
  }

 private:
  template <class Range>
  void copy_in(const Range& values) {
    if (block_.closed()) return;  // a placeholder, being loaded
    std::size_t i = 0;
    for (const auto& v : values) data()[i++] = static_cast<T>(v);
  }

  shared_memory block_;
  mutable mutex lock_;
  std::size_t size_ = 0;
};

/// A T in shared memory changed by atomic operations, with no lock: for the T
/// that std::atomic_ref makes lock-free (integers, pointers, small structs).
template <class T>
  requires(std::is_trivially_copyable_v<T> && std::atomic_ref<T>::is_always_lock_free)
class atomic_value {
 public:
  explicit atomic_value(T initial = T{}) : block_(detail::make_block_for(sizeof(T))) {
    if (!block_.closed()) std::memcpy(block_.bytes().data(), &initial, sizeof(T));
  }
  T load() const { return atomic().load(); }
  void store(T next) { atomic().store(next); }
  T exchange(T next) { return atomic().exchange(next); }
  bool compare_exchange(T& expected, T desired) { return atomic().compare_exchange_strong(expected, desired); }
  T fetch_add(T n)
    requires std::is_integral_v<T>
  {
    return atomic().fetch_add(n);
  }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(block_);
  }

 private:
  std::atomic_ref<T> atomic() const {
    return std::atomic_ref<T>(*reinterpret_cast<T*>(block_.bytes().data()));
  }
  shared_memory block_;
};

}  // namespace mproc
