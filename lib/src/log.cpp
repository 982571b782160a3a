// Log records from every process to the logging process's logger.
//
// The logging process (the one that called log_to) makes one record pipe; every
// child started while logging is on gets its write end (by fork, or as a start
// handle) and passes it on to its own children. A record is one line
//   R <pid> <number> <more> <level> <ns since 1970> <name> <text>
// (fields escaped: no space or line end inside), written with one write of at
// most max_record_write bytes, so that records of many processes never mix; a
// longer text goes in parts of the same <number>, <more> 1 but for the last.
// The output thread reads the pipe, joins parts and hands each record to the
// logger's sinks with the sender's name (%n) and pid (%t).
#include <mproc/log.hpp>

#include "launch.hpp"
#include "log_channel.hpp"
#include "output_pipes.hpp"
#include "output_thread.hpp"
#include "runtime.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
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

class record_reader;

// Never destroyed: records may be logged while the program exits. A forked
// child uses only the atomics and `channel` (the mutexes may have been held).
struct log_state {
  std::atomic<int> threshold{logging_off};
  std::atomic<int> logging_pid{0};  // the process that writes records; others send them
  native_handle channel = no_handle;
  std::atomic<std::uint64_t> next_record{0};

  std::mutex mutex;  // the logging process's: what follows
  std::shared_ptr<spdlog::logger> destination;
  native_handle channel_read = no_handle;
  std::shared_ptr<record_reader> reader;
  std::condition_variable synced;
  std::uint64_t syncs_sent = 0;
  std::uint64_t syncs_seen = 0;
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

// Reads the channel in the logging process, on the output thread.
class record_reader : public std::enable_shared_from_this<record_reader> {
 public:
  explicit record_reader(native_handle read_end)
      : pipe_(output_thread_of_process().context, as_pipe_handle(read_end)) {}

  void start() {
    boost::asio::post(pipe_.get_executor(), [self = shared_from_this()] { self->read_more(); });
  }

 private:
  void read_more() {
    pipe_.async_read_some(boost::asio::buffer(buffer_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t size) {
                            self->take(size);
                            if (!ec) self->read_more();
                          });
  }

  void take(std::size_t size) {
    partial_.append(buffer_.data(), size);
    std::size_t begin = 0;
    for (std::size_t end; (end = partial_.find('\n', begin)) != std::string::npos; begin = end + 1) {
      handle_line(std::string_view(partial_).substr(begin, end - begin));
    }
    partial_.erase(0, begin);
    if (partial_.size() > 2 * max_record_write) partial_.clear();  // not records: garbage
  }

  void handle_line(std::string_view line) {
    std::vector<std::string_view> fields;
    while (fields.size() < 7) {
      const auto space = line.find(' ');
      if (space == std::string_view::npos) break;
      fields.push_back(line.substr(0, space));
      line.remove_prefix(space + 1);
    }
    fields.push_back(line);
    if (fields.size() == 2 && fields[0] == "S") return synced(fields[1]);
    if (fields.size() != 8 || fields[0] != "R") return;  // not a record: dropped
    long long pid = 0, level = 0, ns = 0;
    unsigned long long number = 0;
    bool more = fields[3] == "1";
    if (!number_in(fields[1], pid) || !number_in(fields[2], number) || !number_in(fields[4], level) ||
        !number_in(fields[5], ns) || level < 0 || level >= logging_off) {
      return;
    }
    auto& text = pending_[{pid, number}];
    text += fields[7];
    if (more) return;
    const std::string whole = unescape(text);
    pending_.erase({pid, number});
    const auto time = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(ns)));
    write_record_here(unescape(fields[6]), static_cast<int>(pid), static_cast<int>(level), time, whole);
  }

  template <class Number>
  static bool number_in(std::string_view field, Number& value) {
    const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
    return error == std::errc{} && end == field.data() + field.size();
  }

  void synced(std::string_view field) {
    unsigned long long seen = 0;
    if (!number_in(field, seen)) return;
    {
      std::lock_guard lock(state().mutex);
      state().syncs_seen = std::max<std::uint64_t>(state().syncs_seen, seen);
    }
    state().synced.notify_all();
  }

  boost::asio::readable_pipe pipe_;
  std::array<char, 64 * 1024> buffer_{};
  std::string partial_;
  std::map<std::pair<long long, unsigned long long>, std::string> pending_;
};

void use_forwarding_default_logger(int threshold) {
  auto logger = std::make_shared<spdlog::logger>(runtime::get().self().name, std::make_shared<forwarding_sink>());
  logger->set_level(static_cast<spdlog::level::level_enum>(threshold));
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace

log_inheritance log_for_children() noexcept {
  auto& st = state();
  return {st.channel, st.threshold.load()};
}

void adopt_log_channel(native_handle channel, int threshold) {
  auto& st = state();
  st.channel = channel;
  st.threshold.store(threshold);
  st.logging_pid.store(0);
  use_forwarding_default_logger(threshold);
}

void begin_forked_child_logging() noexcept {
  auto& st = state();
  if (st.channel == no_handle) return;
  st.logging_pid.store(0);  // the parent, or its parent, writes; this one sends
  try {
    use_forwarding_default_logger(st.threshold.load());
  } catch (...) {  // spdlog's default logger stays as it was: mproc::log still sends
  }
}

void sync_log_records(std::chrono::nanoseconds at_most) {
  auto& st = state();
  if (st.logging_pid.load() != current_pid()) return;
  auto* thread = existing_output_thread();
  if (thread == nullptr || thread->is_current()) return;
  std::unique_lock lock(st.mutex);
  const std::uint64_t wanted = ++st.syncs_sent;
  const std::string marker = "S " + std::to_string(wanted) + "\n";
  if (!write_record(st.channel, marker)) return;
  st.synced.wait_for(lock, at_most, [&] { return st.syncs_seen >= wanted; });
}

}  // namespace detail

void log_to(std::shared_ptr<spdlog::logger> logger, log_level level) {
  if (!logger) throw std::invalid_argument("mproc::log_to: the logger is null");
  auto& st = detail::state();
  std::lock_guard lock(st.mutex);
  st.destination = std::move(logger);
  if (st.logging_pid.load() != detail::current_pid()) {  // this process starts its own channel
    const auto ends = detail::make_record_pipe();
    st.channel = ends.write;  // a child's inherited channel stays open, unused: its children get this one
    st.reader = std::make_shared<detail::record_reader>(ends.read);
    st.reader->start();
    st.logging_pid.store(detail::current_pid());
  }
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
