// Big arrays handed to children and pool workers by reference: no copy, as
// joblib hands a big numpy array to its workers as a memory map.
//
//   mproc::shared_buffer<double> samples(1 << 27);          // 1 GiB of zeros, in shared memory
//   fill(samples.span());                                    // write it in place
//   double sum_of(mproc::shared_span<const double> part);    // a task reads its slice in place
//   auto sums = pool.map(sum_of, samples.slices(1 << 20));   // one task per 1 M items
//   void scale(mproc::shared_span<double> part);             // a task writes its slice in place
//   pool.map(scale, samples.slices(1 << 20));
//
// A buffer or a span travels as its block's name and where the slice lies:
// a few dozen bytes, whatever the size. Its memory lives as long as any
// process holds a handle to it (refcounted, and freed by the resource tracker
// if every holder is killed). Unlike mproc::array it has no lock: workers
// given disjoint slices need none; use a lock or atomic_ref where slices overlap.
#pragma once

#include <mproc/error.hpp>
#include <mproc/shared.hpp>
#include <mproc/shared_memory.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace mproc {

template <class T>
class shared_span;

namespace detail {

/// Throws serialization_error unless `count` items of `item_bytes` from item
/// `offset` lie inside `block` (a decoded span could say anything).
void check_shared_extent(const shared_memory& block, std::size_t offset, std::size_t count, std::size_t item_bytes);
/// The most items of `item_bytes` a buffer can hold, before a size overflows.
constexpr std::size_t largest_shared_count(std::size_t item_bytes) noexcept {
  return (static_cast<std::size_t>(-1) / 2) / item_bytes;
}

}  // namespace detail

/// `n` values of T in shared memory, for children and pool tasks to read and
/// write in place. Copies are handles to the same memory.
template <class T>
class shared_buffer {
  static_assert(std::is_trivially_copyable_v<T> && !std::is_const_v<T>,
                "a shared_buffer holds a non-const trivially copyable type (its bytes are shared as they are)");

 public:
  /// An empty buffer (no memory).
  shared_buffer() = default;
  /// `n` zeroed values. Errors: mproc::error when shared memory is short.
  explicit shared_buffer(std::size_t n) : block_(make(n)), size_(n) {}
  /// A copy of a sized range's values: shared_buffer<double>(mproc::from_range, samples).
  template <std::ranges::sized_range Range>
    requires std::convertible_to<std::ranges::range_reference_t<Range>, T>
  shared_buffer(from_range_t, Range&& values) : shared_buffer(static_cast<std::size_t>(std::ranges::size(values))) {
    if constexpr (std::ranges::contiguous_range<Range> &&
                  std::is_same_v<std::remove_cv_t<std::ranges::range_value_t<Range>>, T>) {
      if (size_ != 0) std::memcpy(data(), std::ranges::data(values), size_ * sizeof(T));
    } else {
      std::ranges::copy(values, data());
    }
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T* data() const noexcept { return detail::data_of<T>(block_); }
  T& operator[](std::size_t i) const noexcept { return data()[i]; }
  T* begin() const noexcept { return data(); }
  T* end() const noexcept { return data() + size_; }
  std::span<T> span() const noexcept { return {data(), size_}; }

  /// Items [offset, offset + count) as a span that travels. Errors:
  /// std::out_of_range past the end.
  shared_span<T> slice(std::size_t offset, std::size_t count) const { return whole().subspan(offset, count); }
  /// The whole buffer in consecutive slices of `each` items (the last may be
  /// shorter): the inputs of a pool map. Errors: mproc::error for 0.
  std::vector<shared_span<T>> slices(std::size_t each) const { return whole().slices(each); }
  operator shared_span<T>() const { return whole(); }
  operator shared_span<const T>() const { return whole(); }

  /// The name of its shared memory block (in /dev/shm on POSIX).
  const std::string& name() const noexcept { return block_.name(); }
  /// Ends this process's use of the memory (for every copy of this handle).
  void close() noexcept { block_.close(); }
  bool closed() const noexcept { return block_.closed(); }

  template <class Archive>
  void save(Archive& archive) const {
    archive(block_, size_);
  }
  template <class Archive>
  void load(Archive& archive) {
    archive(block_, size_);
    detail::check_shared_extent(block_, 0, size_, sizeof(T));
  }

 private:
  static shared_memory make(std::size_t n) {
    if (n > detail::largest_shared_count(sizeof(T))) {
      throw error("a shared_buffer of " + std::to_string(n) + " items of " + std::to_string(sizeof(T)) +
                  " bytes is larger than memory can be");
    }
    return detail::make_block_for(std::max<std::size_t>(n, 1) * sizeof(T));
  }
  shared_span<T> whole() const { return shared_span<T>(block_, 0, size_); }

  shared_memory block_;
  std::size_t size_ = 0;
};

/// Items of a shared_buffer (all, or a slice), as a task's or a child's
/// argument: it travels as a handle, and the receiver reads and writes the
/// same memory. shared_span<const T> gives read-only access; a
/// shared_span<T> converts to it.
template <class T>
class shared_span {
  using item = std::remove_const_t<T>;
  static_assert(std::is_trivially_copyable_v<item>, "a shared_span is of a trivially copyable type");

 public:
  shared_span() = default;
  /// A writable span is also a read-only one.
  template <class U>
    requires(std::is_const_v<T> && std::is_same_v<U, item>)
  shared_span(const shared_span<U>& other)  // NOLINT: implicit, as std::span<T> to std::span<const T>
      : block_(other.block_), offset_(other.offset_), size_(other.size_) {}

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  /// Where the slice starts in its buffer.
  std::size_t offset() const noexcept { return offset_; }
  T* data() const noexcept {
    item* base = detail::data_of<item>(block_);
    return base == nullptr ? nullptr : base + offset_;
  }
  T& operator[](std::size_t i) const noexcept { return data()[i]; }
  T* begin() const noexcept { return data(); }
  T* end() const noexcept { return data() + size_; }
  std::span<T> span() const noexcept { return {data(), size_}; }
  operator std::span<T>() const noexcept { return span(); }

  /// Items [offset, offset + count) of this span. Errors: std::out_of_range.
  shared_span subspan(std::size_t offset, std::size_t count) const {
    if (offset > size_ || count > size_ - offset) {
      throw std::out_of_range("items [" + std::to_string(offset) + ", " + std::to_string(offset) + " + " +
                              std::to_string(count) + ") of a shared span of " + std::to_string(size_));
    }
    return shared_span(block_, offset_ + offset, count);
  }
  /// This span in consecutive pieces of `each` items (the last may be shorter).
  std::vector<shared_span> slices(std::size_t each) const {
    if (each == 0) throw error("slices of 0 items asked of a shared span");
    std::vector<shared_span> pieces;
    pieces.reserve(size_ / each + 1);
    for (std::size_t at = 0; at < size_; at += each) pieces.push_back(subspan(at, std::min(each, size_ - at)));
    return pieces;
  }

  template <class Archive>
  void save(Archive& archive) const {
    archive(block_, offset_, size_);
  }
  template <class Archive>
  void load(Archive& archive) {
    archive(block_, offset_, size_);
    detail::check_shared_extent(block_, offset_, size_, sizeof(item));
  }

 private:
  template <class>
  friend class shared_buffer;
  template <class>
  friend class shared_span;
  shared_span(shared_memory block, std::size_t offset, std::size_t size)
      : block_(std::move(block)), offset_(offset), size_(size) {}

  shared_memory block_;
  std::size_t offset_ = 0;
  std::size_t size_ = 0;
};

}  // namespace mproc
