// Logging from any process to one sink in the main process: Python's
// multiprocessing.log_to_stderr(), on spdlog.
//
//   mproc::log_to_stderr(mproc::log_level::info);   // in main(), before starting children
//   mproc::log(mproc::log_level::info, "chunk {} done", i);  // any process: "[INFO/PoolWorker-2] chunk 3 done"
//   spdlog::warn("low on disk");                     // in a child: forwarded too (see below)
//
// Records carry the name and pid of the process that made them, their time and
// level; children send them up a pipe to the process that called log_to() or
// log_to_stderr() (the "logging process"), whose logger writes them: its sinks,
// its pattern. In a record there, %n is the sending process's name and %t its pid.
#pragma once

#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include <memory>
#include <mutex>
#include <string_view>
#include <utility>

namespace mproc {

/// Python's logging levels.
enum class log_level { debug, info, warning, error, critical };

/// Records of this process and of the children it starts from now on, at
/// `level` and above, go to `logger`, in this process. Children that already
/// run are not told. A child that calls it takes its own subtree's records.
void log_to(std::shared_ptr<spdlog::logger> logger, log_level level);

/// log_to() a logger that writes to stderr as Python does: "[INFO/Process-1] text".
/// Returns the logger (to add sinks, or change its pattern).
std::shared_ptr<spdlog::logger> log_to_stderr(log_level level = log_level::info);

/// Whether a record at `level` goes anywhere from this process.
bool log_enabled(log_level level) noexcept;

/// Logs `text` as this process at `level`: nothing unless logging is on.
void log_message(log_level level, std::string_view text);

/// Logs an {fmt} message as this process: mproc::log(log_level::info, "{} items", n).
template <class... Args>
void log(log_level level, spdlog::format_string_t<Args...> format, Args&&... args) {
  if (log_enabled(level)) log_message(level, fmt::format(format, std::forward<Args>(args)...));
}

/// An spdlog sink that sends what a child's logger writes to the logging
/// process (in the logging process itself it writes nothing: that process's
/// logger has its own sinks). mproc makes it the sink of spdlog's default
/// logger in every child started while logging is on, so that spdlog::info()
/// there needs nothing more; add it to your own loggers' sinks likewise.
class forwarding_sink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& message) override;
  void flush_() override {}
};

}  // namespace mproc
