#include "runtime.hpp"

#include "launch.hpp"
#include "output_thread.hpp"
#include "shared_blocks.hpp"

#include <boost/core/demangle.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <typeinfo>

namespace mproc::detail {
namespace {

// Never destroyed: children may still be finishing while static objects are torn
// down, and a forked child must not touch a mutex another thread held at the fork.
std::atomic<runtime*> instance{nullptr};

}  // namespace

runtime& runtime::get() {
  const int pid = current_pid();
  runtime* current = instance.load(std::memory_order_acquire);
  while (current == nullptr || current->pid_ != pid) {
    auto* fresh = new runtime();
    fresh->pid_ = pid;
    fresh->self_.pid = pid;
    if (current != nullptr) {  // a forked child keeps the parent's settings
      fresh->initialized = current->initialized;
      fresh->default_method = current->default_method;
    }
    if (instance.compare_exchange_strong(current, fresh, std::memory_order_acq_rel)) {
      return *fresh;
    }
    delete fresh;
  }
  return *current;
}

void runtime::set_identity(const child_identity& who) {
  self_.name = who.name;
  self_.pid = pid_;
  self_.daemon = who.daemon;
  parent_ = who.parent;
  identity_ = who.identity;
  next_number_ = 1;
}

void runtime::become_child(const child_identity& who) {
  runtime& self = get();
  std::lock_guard lock(self.mutex_);
  self.set_identity(who);
  self.children_.clear();
}

void runtime::become_forked_child(const child_identity& who) {
  runtime* self = instance.load(std::memory_order_acquire);
  if (self == nullptr) {
    become_child(who);
    return;
  }
  // Another thread of the parent may have held the mutex at the fork, and the
  // children listed are the parent's: start both afresh, leaking the copies
  // (destroying the list would write to every child's record).
  new (&self->mutex_) std::mutex();
  new (&self->children_) std::vector<std::shared_ptr<started_child>>();
  forget_output_thread_after_fork();
  self->pid_ = current_pid();
  self->set_identity(who);
}

process_info runtime::self() const { return self_; }

std::optional<process_info> runtime::parent() const { return parent_; }

std::vector<int> runtime::next_child_identity() {
  std::lock_guard lock(mutex_);
  std::vector<int> identity = identity_;
  identity.push_back(next_number_++);
  return identity;
}

void runtime::add_child(std::shared_ptr<started_child> child) {
  std::lock_guard lock(mutex_);
  children_.push_back(std::move(child));
}

void runtime::reap_finished() {
  std::lock_guard lock(mutex_);
  std::erase_if(children_, [](const std::shared_ptr<started_child>& child) {
    try {
      return child->handle->wait(std::chrono::nanoseconds{0}).has_value();
    } catch (const std::exception&) {
      return true;  // its status is gone (see child_handle): nothing left to reap
    }
  });
}

std::vector<process_info> runtime::active_children() {
  reap_finished();
  std::lock_guard lock(mutex_);
  std::vector<process_info> alive;
  for (const auto& child : children_) {
    alive.push_back({child->name, child->handle->pid(), child->daemon});
  }
  return alive;
}

void runtime::finish_children() {
  std::vector<std::shared_ptr<started_child>> children;
  {
    std::lock_guard lock(mutex_);
    children = children_;
  }
  if (children.empty()) {  // the common case in a child: touch nothing more
    wait_for_all_output(output_grace);
    return;
  }
  auto ended = [](started_child& child, std::optional<std::chrono::nanoseconds> timeout) {
    try {
      return child.handle->wait(timeout).has_value();
    } catch (const std::exception&) {
      return true;
    }
  };
  for (auto& child : children) {
    if (child->daemon && !ended(*child, std::chrono::nanoseconds{0})) child->handle->terminate();
  }
  // A daemon that ignores SIGTERM must not keep its parent from exiting.
  for (auto& child : children) {
    if (child->daemon && !ended(*child, std::chrono::seconds{1})) {
      child->handle->kill();
      ended(*child, std::nullopt);
    }
  }
  for (auto& child : children) {
    if (!child->daemon) ended(*child, std::nullopt);
  }
  wait_for_all_output(output_grace);
  std::lock_guard lock(mutex_);
  children_.clear();
}

// Every page a forked child writes costs a copy, so the normal path of a child
// allocates and copies nothing: the name is read only when there is an error.
int run_child_body(const std::function<void()>& body) {
  int code = 0;
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "Process %s:\n%s: %s\n", runtime::get().self().name.c_str(),
                 boost::core::demangle(typeid(e).name()).c_str(), e.what());
    code = 1;
  } catch (...) {
    std::fprintf(stderr, "Process %s:\nan exception that is not a std::exception\n",
                 runtime::get().self().name.c_str());
    code = 1;
  }
  runtime::get().finish_children();
  release_blocks_at_exit();
  return code;  // the caller ends the process with exit_now(), which flushes
}

}  // namespace mproc::detail
