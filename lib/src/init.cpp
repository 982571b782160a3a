#include <mproc/context.hpp>
#include <mproc/init.hpp>
#include <mproc/process.hpp>

#include "launch.hpp"
#include "payload.hpp"
#include "runtime.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string_view>

namespace mproc {
namespace {

constexpr std::string_view spawn_marker = "--mproc-spawn=";
constexpr std::string_view forkserver_marker = "--mproc-forkserver=";

[[noreturn]] void run_spawned_child(const std::string& channel) {
  detail::show_program_name();
  detail::listen_for_interrupt();
  int code = 1;
  try {
    auto start = detail::read_spawn_start(channel);
    code = detail::run_payload(detail::decode_payload(start.payload), std::move(start.handles));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mproc: a spawned child could not start: %s\n", e.what());
  }
  detail::exit_now(code);
}

}  // namespace

void init(int argc, char** argv) {
  auto& rt = detail::runtime::get();
  rt.initialized = true;
  detail::ensure_exit_handler();
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with(spawn_marker)) run_spawned_child(std::string(arg.substr(spawn_marker.size())));
    if (arg.starts_with(forkserver_marker)) {
      detail::show_program_name();
      detail::run_forkserver(std::string(arg.substr(forkserver_marker.size())));
    }
  }
}

bool initialized() noexcept { return detail::runtime::get().initialized; }

std::string_view to_string(start_method method) noexcept {
  switch (method) {
    case start_method::spawn: return "spawn";
    case start_method::fork: return "fork";
    case start_method::forkserver: return "forkserver";
  }
  return "unknown";
}

namespace {

void check_supported(start_method method) {
  const auto supported = all_start_methods();
  if (std::find(supported.begin(), supported.end(), method) == supported.end()) {
    throw process_error("the start method '" + std::string(to_string(method)) +
                        "' is not supported on this platform");
  }
}

}  // namespace

void set_start_method(start_method method) {
  check_supported(method);
  detail::runtime::get().default_method = method;
}

context::context(start_method method) : method_(method) { check_supported(method); }

start_method get_start_method() noexcept { return detail::runtime::get().default_method; }

}  // namespace mproc
