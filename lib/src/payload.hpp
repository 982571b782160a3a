// What a spawned or forkserver child is told: who it is and what to run.
#pragma once

#include <mproc/detail/archive.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace mproc::detail {

struct child_payload {
  std::string name;
  bool daemon = false;
  std::vector<int> identity;   // "Process-1:2" is {1, 2}
  std::string parent_name;
  int parent_pid = 0;
  std::string class_name;      // mangled name of a process subclass; empty for process
  std::string class_state;     // the subclass's serialised members
  std::string call;            // the encoded target call; empty when there is none
  int method = 0;              // the parent's default start method
  std::vector<std::uint32_t> output_handles;  // empty, or the handles of its stdout and stderr
  std::vector<std::uint32_t> log_handle;      // empty, or the handle of the log channel
  int log_threshold = 6;                      // spdlog's number of the lowest level logged; 6: off
  std::vector<std::uint32_t> progress_handle;  // empty, or the handle of its progress channel

  template <class Archive>
  void serialize(Archive& archive) {
    archive(name, daemon, identity, parent_name, parent_pid, class_name, class_state, call, method, output_handles,
            log_handle, log_threshold, progress_handle);
  }
};

/// Runs what a spawn or forkserver child was sent, with the handles that came
/// with it; returns its exit code.
int run_payload(const child_payload& payload, std::vector<int> handles);

std::string encode_payload(const child_payload& payload);
/// Throws serialization_error on bytes that are not a payload.
child_payload decode_payload(std::string_view bytes);

/// Frames start with this, so that bytes from anything else are recognised.
inline constexpr std::uint32_t frame_magic = 0x4d50524bu;  // "MPRK"
/// Payloads larger than this are refused as corrupt.
inline constexpr std::uint64_t max_payload_size = std::uint64_t{1} << 34;

}  // namespace mproc::detail
