#include <mproc/process.hpp>

#include "captured_output.hpp"
#include "launch.hpp"
#include "log_channel.hpp"
#include "output_thread.hpp"
#include "payload.hpp"
#include "progress_channel.hpp"
#include "runtime.hpp"
#include "shared_blocks.hpp"

#include <boost/core/demangle.hpp>

#include <cstdlib>
#include <map>
#include <ostream>
#include <sstream>
#include <thread>

namespace mproc {
namespace detail {
namespace {

// Python's default names: the class name, then the identity ("Process-1:2",
// "my_process-3").
std::string default_name(const std::type_info& type, const std::vector<int>& identity) {
  std::string name = "Process";
  if (type != typeid(process)) {
    name = boost::core::demangle(type.name());
    name = name.substr(0, name.find('<'));
    if (const auto colons = name.rfind("::"); colons != std::string::npos) name = name.substr(colons + 2);
  }
  for (std::size_t i = 0; i < identity.size(); ++i) {
    name += i == 0 ? '-' : ':';
    name += std::to_string(identity[i]);
  }
  return name;
}

std::map<std::string, process_class>& process_classes() {
  static std::map<std::string, process_class> classes;
  return classes;
}

void finish_children_at_exit() {
  runtime::get().finish_children();
  release_blocks_at_exit();
}

}  // namespace

void register_process_class(const std::type_info& type, process_class how) {
  process_classes()[type.name()] = std::move(how);
}

const process_class* find_process_class(const std::string& mangled_name) {
  auto found = process_classes().find(mangled_name);
  return found == process_classes().end() ? nullptr : &found->second;
}

void ensure_exit_handler() {
  static const bool registered = [] {
    std::atexit(finish_children_at_exit);
    return true;
  }();
  (void)registered;
}

}  // namespace detail

struct process::state {
  std::string name;
  std::vector<int> identity;
  bool daemon = false;
  std::optional<start_method> method;
  output_capture capture;
  std::function<void(std::size_t, std::size_t)> progress;
  std::optional<detail::target_call> target;
  std::shared_ptr<detail::started_child> child;
  bool closed = false;
  bool is_self = false;  // this object is the running process itself (in its child)
};

// Gives the child-side code access to the protected run() and the private state.
struct detail::process_access {
  static void run(process& p) { p.run(); }
  static process::state& state_of(process& p) { return *p.state_; }
  static const process::state& state_of(const process& p) { return *p.state_; }
};

process::process() : process(process_options{}) {}

process::process(process_options options) : state_(std::make_unique<state>()) {
  state_->identity = detail::runtime::get().next_child_identity();
  state_->name = std::move(options.name);  // empty: the default name, see name()
  state_->daemon = options.daemon.value_or(false);
  state_->method = options.method;
  state_->capture = std::move(options.capture_output);
  state_->progress = std::move(options.progress);
}

process::process(process&&) noexcept = default;
process& process::operator=(process&&) noexcept = default;
process::~process() = default;

void process::set_target(detail::target_call call) { state_->target = std::move(call); }

void process::run() {
  if (state_->target) state_->target->run_here();
}

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw process_error("process '" + name + "': " + what);
}

void require_open(const std::string& name, bool closed) {
  if (closed) fail(name, "the process object is closed");
}

}  // namespace

std::string encode_call(detail::target_call* target, const std::string& name) {
  if (target == nullptr) return {};
  if (!target->encode) fail(name, "cannot be started by spawn or forkserver: " + target->why_not_encodable);
  std::ostringstream bytes;
  {
    detail::output_archive out(bytes);
    target->encode(out);
  }
  return std::move(bytes).str();
}

// What a spawn or forkserver child is sent: who it is and what it runs. Objects
// among the arguments that own descriptors put them in the current outbox.
detail::child_payload process::start_message(const detail::child_identity& who, start_method default_method) const {
  auto& st = *state_;
  detail::child_payload payload;
  payload.name = who.name;
  payload.daemon = who.daemon;
  payload.identity = who.identity;
  payload.parent_name = who.parent.name;
  payload.parent_pid = who.parent.pid;
  payload.method = static_cast<int>(default_method);
  if (typeid(*this) != typeid(process)) {
    const auto* how = detail::find_process_class(typeid(*this).name());
    const std::string type = boost::core::demangle(typeid(*this).name());
    if (how == nullptr) {
      fail(who.name, type + " is a subclass of mproc::process that spawn and forkserver children cannot "
                          "rebuild: add MPROC_REGISTER_PROCESS(" + type + ") to a .cpp file, or use start_method::fork");
    }
    payload.class_name = typeid(*this).name();
    std::ostringstream bytes;
    {
      detail::output_archive out(bytes);
      how->encode(*this, out);
    }
    payload.class_state = std::move(bytes).str();
  }
  payload.call = encode_call(st.target ? &*st.target : nullptr, who.name);
  return payload;
}

void process::start() {
  auto& st = *state_;
  const std::string name = this->name();
  require_open(name, st.closed);
  if (st.is_self) fail(name, "a process cannot start itself");
  if (st.child) fail(name, "processes can only be started once");
  detail::runtime& rt = detail::runtime::get();
  if (rt.self().daemon) fail(name, "daemonic processes are not allowed to have children");
  rt.reap_finished();
  detail::ensure_exit_handler();

  const start_method method = st.method.value_or(rt.default_method);
  detail::launch_request request;
  request.daemon = st.daemon;
  detail::handle_outbox outbox;
  // Whatever leaves start() early tells the outbox's objects that no child came
  // (a block that reserved a user slot for it frees the slot).
  struct start_failure_notice {
    detail::handle_outbox& box;
    ~start_failure_notice() { box.started(-1); }
  } notice{outbox};
  detail::child_identity who{name, st.daemon, st.identity, rt.self()};
  std::optional<detail::child_output_pipes> pipes;
  if (st.capture.captured()) pipes.emplace();
  detail::child_log_channel log_channel;
  detail::child_progress_channel progress_channel(static_cast<bool>(st.progress));
  // Lives until launch_fork() below has run the closure that refers to it.
  struct child_side {
    const detail::child_identity& who;
    std::optional<detail::child_output_pipes>& pipes;
    detail::child_log_channel& log;
    detail::child_progress_channel& progress;
  } side{who, pipes, log_channel, progress_channel};
  if (method == start_method::fork) {
    // Captures two pointers (what they point to outlives the fork in both
    // processes): a closure this small lives inside the std::function, and the
    // parent frees nothing after the fork, where every page written costs a copy.
    request.run_in_fork = [this, &side] {
      if (side.pipes) detail::redirect_output(side.pipes->out.write, side.pipes->err.write);
      detail::runtime::become_forked_child(side.who);
      side.log.adopt_in_fork();
      side.progress.adopt_in_fork();
      state_->is_self = true;
      state_->child.reset();
      detail::exit_now(detail::run_child_body([this] { run(); }));
    };
  } else {
    if (!rt.initialized) {
      fail(name, "mproc::init(argc, argv) must be called at the start of main() before "
                    "starting a process with the " + std::string(to_string(method)) + " method");
    }
    detail::outbox_scope outbox_scope(outbox);
    detail::child_payload payload = start_message(who, rt.default_method);
    if (pipes) payload.output_handles = {outbox.add(pipes->out.write), outbox.add(pipes->err.write)};
    if (log_channel.write_end() != detail::no_handle) {
      payload.log_handle = {outbox.add(log_channel.write_end())};
      payload.log_threshold = log_channel.threshold();
    }
    if (progress_channel.write_end() != detail::no_handle) {
      payload.progress_handle = {outbox.add(progress_channel.write_end())};
    }
    request.payload = detail::encode_payload(payload);
    request.handles = outbox.handles();
  }

  auto child = std::make_shared<detail::started_child>();
  child->name = name;
  child->daemon = st.daemon;
  switch (method) {
    case start_method::spawn: child->handle = detail::launch_spawn(request); break;
    case start_method::fork: child->handle = detail::launch_fork(request); break;
    case start_method::forkserver: child->handle = detail::launch_forkserver(request); break;
  }
  outbox.started(child->handle->pid());  // the notice above then has nothing left to say
  if (pipes) child->output = detail::read_child_output(*pipes, {name, child->handle->pid(), st.daemon}, st.capture);
  child->log_records = log_channel.start_reading();
  child->progress_reports = progress_channel.start_reading(st.progress, name);
  st.child = child;
  rt.add_child(std::move(child));
}

void process::join() { join_for(std::chrono::nanoseconds::max()); }

std::shared_ptr<detail::started_child> process::child_to_join() const {
  require_open(name(), state_->closed);
  if (state_->is_self) fail(name(), "a process cannot join itself");
  if (!state_->child) fail(name(), "can only join a started process");
  return state_->child;
}

bool process::join_for(std::chrono::nanoseconds timeout) {
  const auto child = child_to_join();
  std::optional<std::chrono::nanoseconds> limit;
  if (timeout != std::chrono::nanoseconds::max()) limit = std::max(timeout, std::chrono::nanoseconds{0});
  const std::optional<int> code = child->handle->wait(limit);
  if (code) {
    if (child->output) detail::wait_delivered(*child->output, detail::output_grace);
    if (child->log_records) child->log_records->wait_ended(detail::output_grace);
    if (child->progress_reports) child->progress_reports->wait_ended(detail::output_grace);
    detail::runtime::get().reap_finished();
    // Killed, it let go of no block: those it was the last live user of go now.
    if (*code < 0) detail::sweep_blocks_let_go();
  }
  return code.has_value();
}

void process::interrupt() {
  require_open(name(), state_->closed);
  if (state_->child) state_->child->handle->interrupt();
}

void process::terminate() {
  require_open(name(), state_->closed);
  if (state_->child) state_->child->handle->terminate();
}

void process::kill() {
  require_open(name(), state_->closed);
  if (state_->child) state_->child->handle->kill();
}

bool process::is_alive() const {
  require_open(name(), state_->closed);
  if (state_->is_self) return true;
  if (!state_->child) return false;
  return !state_->child->handle->wait(std::chrono::nanoseconds{0}).has_value();
}

std::optional<int> process::exitcode() const {
  require_open(name(), state_->closed);
  if (!state_->child || state_->is_self) return std::nullopt;
  return state_->child->handle->wait(std::chrono::nanoseconds{0});
}

int process::pid() const {
  require_open(name(), state_->closed);
  if (state_->is_self) return detail::current_pid();
  return state_->child ? state_->child->handle->pid() : 0;
}

int process::sentinel() const {
  require_open(name(), state_->closed);
  return state_->child ? state_->child->handle->sentinel() : -1;
}

std::string process::name() const {
  // Computed on demand: only a complete object knows its class (a subclass's).
  return state_->name.empty() ? detail::default_name(typeid(*this), state_->identity) : state_->name;
}

void process::set_name(std::string name) { state_->name = std::move(name); }

bool process::daemon() const { return state_->daemon; }

void process::set_daemon(bool daemon) {
  require_open(name(), state_->closed);
  if (state_->child) fail(name(), "the daemon flag cannot be changed after start()");
  state_->daemon = daemon;
}

void process::close() {
  auto& st = *state_;
  if (st.closed) return;
  if (st.child && !st.child->handle->wait(std::chrono::nanoseconds{0})) {
    fail(name(), "cannot close a process that is still running; join() or terminate() it first");
  }
  st.child.reset();
  st.target.reset();
  st.closed = true;
}

std::ostream& operator<<(std::ostream& out, const process& p) {
  auto& st = detail::process_access::state_of(const_cast<process&>(p));
  out << "<process name='" << p.name() << "'";
  if (st.closed) return out << " closed>";
  if (!st.child && !st.is_self) {
    out << " initial";
  } else if (auto code = p.exitcode()) {
    out << " pid=" << p.pid() << " stopped";
    if (*code < 0) {
      out << "[signal " << -*code << "]";
    } else if (*code > 0) {
      out << " exitcode=" << *code;
    }
  } else {
    out << " pid=" << p.pid() << " started";
  }
  if (st.daemon) out << " daemon";
  return out << ">";
}

process_info current_process() { return detail::runtime::get().self(); }

std::optional<process_info> parent_process() { return detail::runtime::get().parent(); }

std::vector<process_info> active_children() { return detail::runtime::get().active_children(); }

unsigned cpu_count() noexcept { return std::max(1u, std::thread::hardware_concurrency()); }

namespace detail {

void throw_undecodable_arguments(const char* reason) {
  throw serialization_error(std::string("cannot decode the target's arguments: ") + reason);
}

void encode_call_head(output_archive& out, call_entry entry, std::uintptr_t target) {
  out(locate_code(reinterpret_cast<std::uintptr_t>(entry)), target != 0);
  if (target != 0) out(locate_code(target));
}

namespace {

// The inverse of make_target_call's encode: finds the entry and target in this
// run of the program and lets the entry read the arguments and make the call.
target_call decode_call(std::string bytes) {
  target_call call;
  call.run_here = [bytes = std::move(bytes)] {
    input_archive in(bytes);
    code_address entry;
    code_address target;
    bool has_target = false;
    try {
      in(entry, has_target);
      if (has_target) in(target);
    } catch (const std::exception& e) {  // cereal::Exception, or bad_alloc from a corrupt length
      throw serialization_error(std::string("the target's description is corrupt: ") + e.what());
    }
    auto* run_entry = reinterpret_cast<call_entry>(resolve_code(entry));
    const std::uintptr_t target_address = has_target ? resolve_code(target) : 0;
    run_entry(target_address, in);  // decoding errors there are serialization_errors
  };
  return call;
}

}  // namespace

bool dumped_core_of(const process& p) {
  const auto& child = process_access::state_of(p).child;
  return child && child->handle->dumped_core();
}

std::vector<std::string> last_error_lines_of(const process& p, std::size_t count) {
  const auto& child = process_access::state_of(p).child;
  if (!child || !child->output) return {};
  return last_error_lines(*child->output, count);
}

int run_payload(const child_payload& payload, std::vector<int> handles) {
  handle_inbox inbox(std::move(handles));
  inbox_scope scope(inbox);
  runtime::get().default_method = static_cast<start_method>(payload.method);
  const child_identity who{payload.name, payload.daemon, payload.identity,
                           process_info{payload.parent_name, payload.parent_pid, false}};
  if (payload.output_handles.size() == 2) {
    const native_handle out = inbox.take(payload.output_handles[0]);
    redirect_output(out, inbox.take(payload.output_handles[1]));
  }
  runtime::become_child(who);
  if (payload.log_handle.size() == 1) adopt_log_channel(inbox.take(payload.log_handle[0]), payload.log_threshold);
  if (payload.progress_handle.size() == 1) adopt_progress_channel(inbox.take(payload.progress_handle[0]));
  std::unique_ptr<process> self;
  return run_child_body([&] {
    if (payload.class_name.empty()) {
      self = std::make_unique<process>();
    } else {
      const process_class* how = find_process_class(payload.class_name);
      if (how == nullptr) {
        throw process_error("the process class " + boost::core::demangle(payload.class_name.c_str()) +
                            " is not registered in this program (MPROC_REGISTER_PROCESS)");
      }
      input_archive in(payload.class_state);
      try {
        self = how->make(in);
      } catch (const std::exception& e) {
        throw serialization_error(std::string("cannot decode the process object: ") + e.what());
      }
    }
    if (payload.call.empty()) decoding_done();  // else the call's entry ends it
    runtime::become_child(who);  // constructing the object above counted a child
    auto& st = process_access::state_of(*self);
    st.name = payload.name;
    st.identity = payload.identity;
    st.daemon = payload.daemon;
    st.is_self = true;
    if (!payload.call.empty()) st.target = decode_call(payload.call);
    process_access::run(*self);
  });
}

}  // namespace detail
}  // namespace mproc
