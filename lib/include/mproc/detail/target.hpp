// How a process target and its arguments are carried to a child.
//
// Under fork the child is a copy of the parent, so any callable simply runs there.
// Under spawn and forkserver the child is a fresh run of the same binary, so a
// call is written as bytes: the address of a typed entry function (an instance of
// call_entry below), the address of the target function, and the arguments. Code
// addresses travel as (module, offset from its load address), which is the same
// in every run of the same binary whatever ASLR does; the child checks that a
// received address lies in executable code of a loaded module before calling it.
// This is why plain functions need no registration.
#pragma once

#include <mproc/detail/archive.hpp>
#include <mproc/detail/handles.hpp>

#include <boost/core/demangle.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <typeinfo>
#include <utility>

namespace mproc::detail {

/// A code address as (module, offset from the module's load address). An empty
/// module names the main program.
struct code_address {
  std::string module;
  std::uint64_t offset = 0;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(module, offset);
  }
};

/// Finds the module holding `address` (platform code). Throws process_error if
/// the address is not in a loaded module.
code_address locate_code(std::uintptr_t address);

/// The address `code` stands for in this process, checked to lie in executable
/// code of a loaded module. Throws process_error otherwise.
std::uintptr_t resolve_code(const code_address& code);

/// The signature of a typed entry: reads the arguments and calls the target.
using call_entry = void (*)(std::uintptr_t target, input_archive& in);

/// A target as the process class keeps it until start().
struct target_call {
  /// Runs the target in this process (the fork start method).
  std::function<void()> run_here;
  /// Writes the call for a spawned child; empty when the target or an argument
  /// cannot travel, in which case `why_not_encodable` says why.
  std::function<void(output_archive&)> encode;
  std::string why_not_encodable;
};

/// Writes the entry and target addresses that start an encoded call.
void encode_call_head(output_archive& out, call_entry entry, std::uintptr_t target);

/// A target the spawned child can find: a plain function, or a class with no state
/// that it can default-construct (a captureless lambda).
template <class F>
concept spawnable_target =
    (std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>) ||
    (std::is_class_v<F> && std::is_empty_v<F> && std::default_initializable<F>);

template <class F>
std::uintptr_t target_address(F f) {
  if constexpr (std::is_pointer_v<F>) {
    return reinterpret_cast<std::uintptr_t>(f);
  } else {
    return 0;  // a stateless class is rebuilt by its entry, not found by address
  }
}

/// The target can be called with the arguments as they travel.
template <class F, class... Args>
concept callable_with_travelling = std::invocable<F&, travelling_t<Args>&...>;

template <class F, class... Args>
constexpr void check_callable_with_travelling() {
  static_assert(callable_with_travelling<F, Args...>,
                "the target cannot be called with these arguments as they travel to the child (a string literal "
                "travels as std::string: take std::string or std::string_view, not const char*)");
}

/// Throws serialization_error for arguments that cannot be decoded.
[[noreturn]] void throw_undecodable_arguments(const char* reason);

template <class F, class Tuple>
void call_entry_for(std::uintptr_t target, input_archive& in) {
  Tuple args;
  try {
    in(args);
  } catch (const std::exception& e) {  // cereal::Exception, or bad_alloc from a corrupt length
    throw_undecodable_arguments(e.what());
  }
  decoding_done();
  if constexpr (std::is_pointer_v<F>) {
    std::apply(reinterpret_cast<F>(target), args);
  } else {
    F f{};
    std::apply(f, args);
  }
}

template <class T>
std::string wire_problem() {
  if constexpr (travelling_value<T>) {
    return {};
  } else {
    return "argument of type " + boost::core::demangle(typeid(T).name()) +
           " cannot be serialised (give it a cereal serialize() function and a default "
           "constructor); ";
  }
}

template <class F, class... Args>
target_call make_target_call(F f, Args&&... args) {
  using arguments = std::tuple<travelling_t<Args>...>;
  auto stored = std::make_shared<arguments>(std::forward<Args>(args)...);
  target_call call;
  call.run_here = [f, stored]() mutable { std::apply(f, *stored); };
  if constexpr (spawnable_target<F> && (travelling_value<travelling_t<Args>> && ...)) {
    call.encode = [f, stored](output_archive& out) {
      encode_call_head(out, &call_entry_for<F, arguments>, target_address(f));
      out(*stored);
    };
  } else {
    if constexpr (!spawnable_target<F>) {
      call.why_not_encodable =
          "the target is a " + boost::core::demangle(typeid(F).name()) +
          ", which holds state; spawn and forkserver children can only run plain "
          "functions and captureless lambdas; ";
    }
    ((call.why_not_encodable += wire_problem<travelling_t<Args>>()), ...);
    call.why_not_encodable += "use start_method::fork, which runs any callable";
  }
  return call;
}

}  // namespace mproc::detail
