// The untyped engine behind shared_list, shared_dict, shared_set and
// shared_namespace: byte strings in a shared memory block, under a robust lock
// in the block. How it stays consistent when a process dies in the middle of a
// change, and how it grows, is in lib/src/shared_store.hpp.
#pragma once

#include <mproc/shared_memory.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mproc::detail {

class byte_container {
 public:
  enum class kind : std::uint32_t { list = 1, map = 2 };

  byte_container() = default;  // a placeholder, for loading
  /// `max_bytes` 0: bounded by the memory shared memory may take.
  byte_container(kind what, std::size_t max_bytes, const char* noun);

  // A list of byte strings. Errors: std::out_of_range for an index past the end.
  void append(std::string_view item);
  void extend(const std::vector<std::string>& items);
  /// Room for `count` more items of `item_bytes` each, committed now.
  void reserve(std::size_t count, std::size_t item_bytes);
  std::string at(std::size_t index) const;
  void assign(std::size_t index, std::string_view item);
  void insert(std::size_t index, std::string_view item);
  /// Removes and returns the item at `index` (the last one if none).
  std::string pop(std::optional<std::size_t> index);
  std::vector<std::string> items() const;
  /// Calls `each` on every item in order, under the lock (no copies).
  void visit(void (*each)(void* context, std::string_view item), void* context) const;
  /// Copies the first `count` items, each of exactly `item_bytes` (a plain
  /// value), to `out`; how many there were. Errors: serialization_error.
  std::size_t copy_plain_items(void* out, std::size_t item_bytes, std::size_t count) const;
  /// Replaces item `index` with what `change` makes of it, under the lock.
  void update_at(std::size_t index, const std::function<std::string(std::string_view)>& change);

  // A map from byte strings to byte strings.
  void set(std::string_view key, std::string_view value);
  std::optional<std::string> find(std::string_view key) const;
  /// The value of `key`, after storing `value` there if it had none.
  std::string set_default(std::string_view key, std::string_view value);
  /// Removes `key`; its value if it had one.
  std::optional<std::string> take(std::string_view key);
  std::vector<std::pair<std::string, std::string>> entries() const;
  /// Sets `key` to what `change` makes of its value (nullopt: none yet), under the lock.
  void update_key(std::string_view key, const std::function<std::string(std::optional<std::string_view>)>& change);

  std::size_t size() const;
  void clear();

  /// The container's lock, which every call above takes too (it is
  /// recursive): held, several calls are one step for other processes.
  void lock() const;
  void unlock() const noexcept;

  /// Bytes of shared memory committed for the container (for tests and benchmarks).
  std::size_t committed_bytes() const;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(block_);
  }

 private:
  struct store;
  shared_memory block_;
  // What this handle has made usable of the header and of each half.
  mutable bool view_header_ = false;
  mutable std::uint64_t view_committed_[2] = {0, 0};
};

/// What every shared container has: its store, its lock for with_lock, and
/// travelling to other processes as an argument (by its block's name).
template <class Derived>
class shared_container {
 public:
  /// Runs `work(container)` holding the container's lock: other processes see
  /// what it does as one step. (A process killed inside keeps the changes it
  /// made, each whole.)
  template <class F>
  decltype(auto) with_lock(F&& work) {
    std::scoped_lock hold(store_);
    return work(static_cast<Derived&>(*this));
  }

  /// Bytes of shared memory the container has committed.
  std::size_t committed_bytes() const { return store_.committed_bytes(); }

  template <class Archive>
  void serialize(Archive& archive) {
    archive(store_);
  }

 protected:
  shared_container(byte_container::kind what, std::size_t max_bytes, const char* noun)
      : store_(what, max_bytes, noun) {}
  byte_container store_;
};

/// For tests: called at the named points of a change, so that a test can kill
/// the process exactly there. Points: 1 new bytes written, nothing published;
/// 2 the change's journal complete; 3 half the change applied; 4 a compacted
/// copy made, not published; 5 more memory committed, not used yet.
void set_container_probe(void (*probe)(int point)) noexcept;

}  // namespace mproc::detail
