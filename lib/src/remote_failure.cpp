#include "remote_failure.hpp"
#include "chunk_end.hpp"

#include <mproc/error.hpp>
#include <mproc/process.hpp>

#include <boost/core/demangle.hpp>

#include <any>
#include <charconv>
#include <functional>
#include <future>
#include <ios>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <typeinfo>
#include <variant>

namespace mproc::detail {
namespace {

std::string name_of(const std::type_info& type) { return boost::core::demangle(type.name()); }

// The types every program knows: the standard exceptions that can be made
// again from what they said (or from nothing), and mproc's own errors.
std::map<std::string, remote_factory> known_types() {
  std::map<std::string, remote_factory> known;
  auto add = [&]<class E>(std::type_identity<E>) { known[name_of(typeid(E))] = &make_remote<E>; };
  add(std::type_identity<std::exception>{});
  add(std::type_identity<std::logic_error>{});
  add(std::type_identity<std::invalid_argument>{});
  add(std::type_identity<std::domain_error>{});
  add(std::type_identity<std::length_error>{});
  add(std::type_identity<std::out_of_range>{});
  add(std::type_identity<std::runtime_error>{});
  add(std::type_identity<std::range_error>{});
  add(std::type_identity<std::overflow_error>{});
  add(std::type_identity<std::underflow_error>{});
  add(std::type_identity<std::bad_alloc>{});
  add(std::type_identity<std::bad_array_new_length>{});
  add(std::type_identity<std::bad_cast>{});
  add(std::type_identity<std::bad_typeid>{});
  add(std::type_identity<std::bad_exception>{});
  add(std::type_identity<std::bad_function_call>{});
  add(std::type_identity<std::bad_optional_access>{});
  add(std::type_identity<std::bad_variant_access>{});
  add(std::type_identity<std::bad_any_cast>{});
  add(std::type_identity<std::bad_weak_ptr>{});
  add(std::type_identity<error>{});
  add(std::type_identity<process_error>{});
  add(std::type_identity<timeout_error>{});
  add(std::type_identity<cancelled_error>{});
  add(std::type_identity<memory_limit_error>{});
  add(std::type_identity<serialization_error>{});
  add(std::type_identity<closed_error>{});
  add(std::type_identity<queue_empty>{});
  add(std::type_identity<queue_full>{});
  add(std::type_identity<eof_error>{});
  add(std::type_identity<broken_barrier_error>{});
  add(std::type_identity<exists_error>{});
  add(std::type_identity<not_found_error>{});
  return known;
}

struct registry {
  std::mutex mutex;
  std::map<std::string, remote_factory> types = known_types();
};

registry& the_registry() {
  static auto* made = new registry();  // never destroyed: failures may arrive during exit
  return *made;
}

// Splits at the first '\0' (or takes all of `rest`).
std::string_view next_field(std::string_view& rest) {
  const auto end = rest.find('\0');
  const std::string_view field = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  return field;
}

}  // namespace

bool register_exception(const std::type_info& type, remote_factory make) {
  auto& known = the_registry();
  std::scoped_lock lock(known.mutex);
  known.types[name_of(type)] = make;
  return true;
}

std::string raised_payload(const std::exception* caught) {
  std::string payload;
  if (caught != nullptr) {
    payload = name_of(typeid(*caught));
    payload += '\0';
    payload += caught->what();
  } else {
    payload = "unknown exception";
    payload += '\0';
    payload += "a task threw something that is not a std::exception";
  }
  const process_info me = current_process();
  payload += '\0';
  payload += me.name;
  payload += '\0';
  payload += std::to_string(me.pid);
  return payload;
}

std::exception_ptr remote_failure(std::string_view payload) {
  // type \0 message \0 name \0 pid; the message may itself hold '\0', so the
  // last two fields are taken from the end.
  std::string_view rest = payload;
  std::string type(next_field(rest));
  std::string process;
  int pid = 0;
  const auto pid_at = rest.rfind('\0');
  if (pid_at != std::string_view::npos) {
    const auto name_at = rest.rfind('\0', pid_at == 0 ? 0 : pid_at - 1);
    if (name_at != std::string_view::npos && name_at < pid_at) {
      const std::string_view digits = rest.substr(pid_at + 1);
      std::from_chars(digits.data(), digits.data() + digits.size(), pid);
      process = std::string(rest.substr(name_at + 1, pid_at - name_at - 1));
      rest = rest.substr(0, name_at);
    }
  }
  std::string message(rest);
  remote_factory make = &make_remote<error>;
  {
    auto& known = the_registry();
    std::scoped_lock lock(known.mutex);
    const auto found = known.types.find(type);
    if (found != known.types.end()) make = found->second;
  }
  return make(std::move(type), std::move(message), std::move(process), pid);
}

std::exception_ptr task_failure(task_status status, std::string_view payload) {
  switch (status) {
    case task_status::raised:
      return remote_failure(payload);
    case task_status::unserialisable_result:
    case task_status::undecodable_task:
      return std::make_exception_ptr(serialization_error(std::string(payload)));
    case task_status::done:
    case task_status::stopped:  // the engine knows why
      break;
  }
  return nullptr;
}

}  // namespace mproc::detail
