// Log records from every process to the logging process's logger.
//
// The logging process (the one that called log_to) gives each child it starts a
// record pipe of its own (by fork, or as a start handle), read by a line_reader
// on its output thread; a child passes its pipe on to its own children. A
// record is one line
//   R <pid> <number> <more> <level> <ns since 1970> <name> <text>
// (fields escaped: no space or line end inside), written with one write of at
// most max_record_write bytes, so that records of the processes that share a
// pipe never mix; a longer text goes in parts of the same <number>, <more> 1
// but for the last. The reader joins parts and hands each record to the
// logger's sinks with the sender's name (%n) and pid (%t). A pipe per child of
// the logging process: join() waits for its end, which says that every record
// the child sent is written (and Wine hung with four writers on one pipe).
#include <mproc/log.hpp>

#include "launch.hpp"
#include "log_channel.hpp"
#include "output_pipes.hpp"
#include "output_thread.hpp"
#include "runtime.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace mproc {
namespace detail {
namespace {

constexpr int logging_off = spdlog::level::off;
// A longer text is cut (and says so): a part of a record from a child killed
// while sending stays with the reader, which must not grow without bound.
constexpr std::size_t max_record_text = 1 << 20;

spdlog::level::level_enum to_spdlog(log_level level) {
  switch (level) {
    case log_level::debug: return spdlog::level::debug;
    case log_level::info: return spdlog::level::info;
    case log_level::warning: return spdlog::level::warn;
    case log_level::error: return spdlog::level::err;
    case log_level::critical: return spdlog::level::critical;
  }
  return spdlog::level::info;
}

void escape_into(std::string& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case ' ': out += "\\s"; break;
      default: out += c;
    }
  }
}

std::string unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char c = text[++i];
    out += c == 'n' ? '\n' : c == 'r' ? '\r' : c == 's' ? ' ' : c;
  }
  return out;
}

// Never destroyed: records may be logged while the program exits. A forked
// child uses only the atomics and `channel` (the mutexes may have been held).
struct log_state {
  std::atomic<int> threshold{logging_off};
  std::atomic<int> logging_pid{0};  // the process that writes records; others send them
  native_handle channel = no_handle;
  std::atomic<std::uint64_t> next_record{0};

  std::mutex mutex;  // the logging process's: its logger
  std::shared_ptr<spdlog::logger> destination;
};

log_state& state() {
  static log_state* the_state = new log_state();
  return *the_state;
}

// Hands a record to the logger's sinks as if `name` (pid `pid`) had logged it.
void write_record_here(std::string_view name, int pid, int level, std::chrono::system_clock::time_point time,
                       std::string_view text) {
  std::shared_ptr<spdlog::logger> logger;
  {
    std::lock_guard lock(state().mutex);
    logger = state().destination;
  }
  const auto lvl = static_cast<spdlog::level::level_enum>(level);
  if (!logger || !logger->should_log(lvl)) return;
  spdlog::details::log_msg message(time, spdlog::source_loc{}, name, lvl, text);
  message.thread_id = static_cast<std::size_t>(pid);
  for (auto& sink : logger->sinks()) {
    if (!sink->should_log(lvl)) continue;
    try {
      sink->log(message);
      if (lvl >= logger->flush_level()) sink->flush();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mproc: a log sink failed: %s\n", e.what());
    }
  }
}

// Sends a record up the channel, in parts of one write each.
void send_record(int level, std::chrono::system_clock::time_point time, std::string_view text) {
  const native_handle channel = state().channel;
  if (channel == no_handle) return;
  const process_info self = runtime::get().self();
  std::string escaped;
  escape_into(escaped, text.substr(0, max_record_text));
  if (text.size() > max_record_text) escape_into(escaped, " [cut: the record was longer than 1 MiB]");
  const std::uint64_t number = state().next_record.fetch_add(1);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
  std::string name;
  escape_into(name, self.name.substr(0, 256));
  const std::string head_tail = " " + std::to_string(level) + " " + std::to_string(ns) + " " + name + " ";
  std::size_t at = 0;
  do {
    const std::string head = "R " + std::to_string(self.pid) + " " + std::to_string(number) + " ";
    const std::size_t room = max_record_write - head.size() - 2 - head_tail.size() - 1;
    std::size_t size = std::min(room, escaped.size() - at);
    // Not between a backslash and what it escapes.
    std::size_t slashes = 0;
    while (slashes < size && escaped[at + size - 1 - slashes] == '\\') ++slashes;
    if (slashes % 2 == 1) --size;
    const bool more = at + size < escaped.size();
    std::string record = head + (more ? "1" : "0") + head_tail;
    record.append(escaped, at, size);
    record += '\n';
    if (!write_record(channel, record)) return;  // the logging process has gone: nobody to tell
    at += size;
  } while (at < escaped.size());
}

// Turns the lines of one record pipe into records, on the output thread.
class record_parser {
 public:
  void handle_line(std::string_view line) {
    std::vector<std::string_view> fields;
    while (fields.size() < 7) {
      const auto space = line.find(' ');
      if (space == std::string_view::npos) break;
      fields.push_back(line.substr(0, space));
      line.remove_prefix(space + 1);
    }
    fields.push_back(line);
    if (fields.size() != 8 || fields[0] != "R") return;  // not a record: dropped
    long long pid = 0, level = 0, ns = 0;
    unsigned long long number = 0;
    const bool more = fields[3] == "1";
    if (!number_in(fields[1], pid) || !number_in(fields[2], number) || !number_in(fields[4], level) ||
        !number_in(fields[5], ns) || level < 0 || level >= logging_off) {
      return;
    }
    auto& text = pending_[{pid, number}];
    if (text.size() + fields[7].size() > 2 * max_record_text) return;  // not from send_record: dropped
    text += fields[7];
    if (more) return;
    const std::string whole = unescape(text);
    pending_.erase({pid, number});
    const auto time = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(ns)));
    write_record_here(unescape(fields[6]), static_cast<int>(pid), static_cast<int>(level), time, whole);
  }

 private:
  template <class Number>
  static bool number_in(std::string_view field, Number& value) {
    const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
    return error == std::errc{} && end == field.data() + field.size();
  }

  std::map<std::pair<long long, unsigned long long>, std::string> pending_;  // parts of unfinished records
};

void use_forwarding_default_logger(int threshold) {
  auto logger = std::make_shared<spdlog::logger>(runtime::get().self().name, std::make_shared<forwarding_sink>());
  logger->set_level(static_cast<spdlog::level::level_enum>(threshold));
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace

child_log_channel::child_log_channel() : threshold_(state().threshold.load()) {
  auto& st = state();
  if (threshold_ >= logging_off) return;
  if (st.logging_pid.load() == current_pid()) {
    made_ = make_record_pipe();
  } else {
    shared_ = st.channel;
  }
}

child_log_channel::~child_log_channel() {
  for (const native_handle end : {made_.read, made_.write}) {
    if (end != no_handle) close_handle(end);
  }
}

native_handle child_log_channel::write_end() const noexcept {
  return made_.write != no_handle ? made_.write : shared_;
}

void child_log_channel::adopt_in_fork() noexcept {
  if (write_end() == no_handle) return;
  auto& st = state();
  st.channel = write_end();
  st.logging_pid.store(0);  // the parent, or its parent, writes; this one sends
  made_ = {};               // kept open: it is this process's channel now
  try {
    use_forwarding_default_logger(threshold_);
  } catch (...) {  // spdlog's default logger stays as it was: mproc::log still sends
  }
}

std::shared_ptr<line_reader> child_log_channel::start_reading() {
  if (made_.read == no_handle) return nullptr;
  close_handle(std::exchange(made_.write, no_handle));
  auto parser = std::make_shared<record_parser>();
  return line_reader::start(std::exchange(made_.read, no_handle), 2 * max_record_write,
                            [parser](std::string_view line) { parser->handle_line(line); });
}

void adopt_log_channel(native_handle channel, int threshold) {
  auto& st = state();
  st.channel = channel;
  st.threshold.store(threshold);
  st.logging_pid.store(0);
  use_forwarding_default_logger(threshold);
}

}  // namespace detail

void log_to(std::shared_ptr<spdlog::logger> logger, log_level level) {
  if (!logger) throw std::invalid_argument("mproc::log_to: the logger is null");
  auto& st = detail::state();
  std::lock_guard lock(st.mutex);
  st.destination = std::move(logger);
  // A child that calls it keeps its channel up open, unused: its records and
  // its new children's are written here now.
  st.logging_pid.store(detail::current_pid());
  st.threshold.store(detail::to_spdlog(level));
}

std::shared_ptr<spdlog::logger> log_to_stderr(log_level level) {
  // Python's format, "[INFO/PoolWorker-2] text": spdlog's names are lower case
  // ("warning" is "warn"), hence a flag of ours for the level.
  class python_level : public spdlog::custom_flag_formatter {
   public:
    void format(const spdlog::details::log_msg& message, const std::tm&, spdlog::memory_buf_t& out) override {
      static constexpr std::string_view names[] = {"TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "OFF"};
      const auto name = names[static_cast<int>(message.level)];
      out.append(name.data(), name.data() + name.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<python_level>(); }
  };
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<python_level>('*').set_pattern("[%*/%n] %v");
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(std::move(formatter));
  auto logger = std::make_shared<spdlog::logger>("mproc", std::move(sink));
  logger->set_level(detail::to_spdlog(level));
  log_to(logger, level);
  return logger;
}

bool log_enabled(log_level level) noexcept { return detail::to_spdlog(level) >= detail::state().threshold.load(); }

void log_message(log_level level, std::string_view text) {
  auto& st = detail::state();
  const int lvl = detail::to_spdlog(level);
  if (lvl < st.threshold.load()) return;
  const auto now = std::chrono::system_clock::now();
  if (st.logging_pid.load() == detail::current_pid()) {
    const process_info self = detail::runtime::get().self();
    detail::write_record_here(self.name, self.pid, lvl, now, text);
  } else {
    detail::send_record(lvl, now, text);
  }
}

void forwarding_sink::sink_it_(const spdlog::details::log_msg& message) {
  auto& st = detail::state();
  if (st.logging_pid.load() == detail::current_pid()) return;  // this process's logger writes itself
  if (message.level < st.threshold.load()) return;
  detail::send_record(message.level, message.time, std::string_view(message.payload.data(), message.payload.size()));
}

}  // namespace mproc
