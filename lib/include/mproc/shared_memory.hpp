// Shared memory: a named block of bytes that several processes map.
//
//   auto block = mproc::shared_memory::create(4096);          // an unguessable name
//   mproc::process p(fill, block);                             // the child maps the same bytes
//   auto same = mproc::shared_memory::attach(block.name());    // or by name
//   std::span<std::byte> bytes = block.bytes();
//
// Lifetime: the name is removed when the last process using the block closes
// it or dies, or at unlink(). A child started with the block as an argument
// counts as a user from start(), so the parent may close its own handle at once.
#pragma once

#include <mproc/error.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace mproc {

class shared_memory;

namespace detail {
struct shared_memory_state;
/// How a new block's data is committed: at once (a full /dev/shm is an error
/// at creation), by its user as it writes (commit_data; a queue's ring), or
/// reserved: every process makes usable, with commit_data, what it uses (a
/// shared container, which reserves room to grow; Windows: SEC_RESERVE).
enum class commit { at_once, on_demand, reserved };
shared_memory create_block(const std::string& name, std::size_t size, commit data);
shared_memory create_block(std::size_t size, commit data);
/// Commits [offset, offset + n) of the block's data, and makes it usable in
/// this process. Windows commits at creation, but for blocks made `reserved`.
void commit_data(const shared_memory& block, std::size_t offset, std::size_t n);
/// Gives the memory of [offset, offset + n) back (reading it then gives
/// zeros); false where it cannot (Windows: a mapped section's pages stay committed).
bool release_data(const shared_memory& block, std::size_t offset, std::size_t n);
/// The most memory a block may hold: the size of /dev/shm (POSIX), the
/// machine's memory (Windows).
std::size_t shared_memory_room();
/// Whether children forked from now on use the block (the default). A pool's
/// task queues are each inherited by their own worker only: a fork of a
/// process using N blocks costs N slot claims, and each child's exit N releases.
void set_inherited_by_fork(const shared_memory& block, bool inherited);
std::string reserve_for_child(const std::shared_ptr<shared_memory_state>& state);
std::shared_ptr<shared_memory_state> attach_reserved(const std::string& name, const std::string& reservation);
}  // namespace detail

/// A handle to a block of shared memory. Copies refer to the same mapping; the
/// last copy in a process (or close()) ends this process's use of it.
class shared_memory {
 public:
  /// A handle to nothing; bytes() is empty.
  shared_memory() = default;

  /// A new block of `size` zeroed bytes with an unguessable name, readable and
  /// writable by this user only (0600). Errors: mproc::error for size 0.
  static shared_memory create(std::size_t size);
  /// The same with a given name. Errors: exists_error if the name is taken.
  static shared_memory create(const std::string& name, std::size_t size);
  /// Maps the block called `name`. Errors: not_found_error.
  static shared_memory attach(const std::string& name);

  std::span<std::byte> bytes() const noexcept;
  std::size_t size() const noexcept;
  const std::string& name() const noexcept;

  /// Ends this process's use of the block (for every copy of this handle). The
  /// name goes when no process uses the block any more.
  void close() noexcept;
  bool closed() const noexcept;

  /// Removes the name now: nobody can attach any more, those who have it mapped
  /// keep it until they close.
  void unlink();

  /// A block travels to a child as a process argument, by name.
  template <class Archive>
  void save(Archive& archive) const {
    archive(name(), detail::reserve_for_child(state_));
  }
  template <class Archive>
  void load(Archive& archive) {
    std::string name;
    std::string reservation;
    archive(name, reservation);
    state_ = detail::attach_reserved(name, reservation);
  }

 private:
  friend shared_memory detail::create_block(const std::string&, std::size_t, detail::commit);
  friend void detail::set_inherited_by_fork(const shared_memory&, bool);
  explicit shared_memory(std::shared_ptr<detail::shared_memory_state> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::shared_memory_state> state_;
};

}  // namespace mproc
