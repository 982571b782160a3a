// Logging: records of every process written by the logging process's logger.
#include "support/scratch.hpp"

#include <mproc/log.hpp>
#include <mproc/pool.hpp>
#include <mproc/process.hpp>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct record {
  std::string name;
  int pid = 0;
  spdlog::level::level_enum level = spdlog::level::off;
  std::string text;
  std::chrono::system_clock::time_point time;
};

// A sink that keeps what it is given.
class kept_records : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<record> all() {
    std::lock_guard lock(mutex_);
    return records_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    records_.push_back({std::string(message.logger_name.data(), message.logger_name.size()),
                        static_cast<int>(message.thread_id), message.level,
                        std::string(message.payload.data(), message.payload.size()), message.time});
  }
  void flush_() override {}

 private:
  std::vector<record> records_;
};

std::shared_ptr<kept_records> log_to_kept(mproc::log_level level) {
  auto sink = std::make_shared<kept_records>();
  auto logger = std::make_shared<spdlog::logger>("test", sink);
  logger->set_level(spdlog::level::trace);
  mproc::log_to(logger, level);
  return sink;
}

void logs_at_each_level(int n) {
  mproc::log(mproc::log_level::debug, "below the level {}", n);
  mproc::log(mproc::log_level::info, "hello {}", n);
  spdlog::warn("through spdlog's default logger {}", n);
  mproc::log(mproc::log_level::error, "two lines,\nspaces and a \\ backslash");
}

void logs_long_records(int child, int records) {
  for (int i = 0; i < records; ++i) {
    mproc::log(mproc::log_level::info, "{} {} {}", child, i, std::string(5000, static_cast<char>('a' + child)));
  }
}

void starts_two_that_log() {
  std::vector<mproc::process> children;
  for (int i = 0; i < 2; ++i) children.emplace_back(logs_long_records, i, 3);
  for (auto& child : children) child.start();
  for (auto& child : children) child.join();
}

int logs_in_a_task(int x) {
  mproc::log(mproc::log_level::warning, "task {}", x);
  return x;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(logging)

MPROC_TEST_EACH_METHOD(a_childs_records_reach_the_logging_process_with_name_pid_level_and_time) {
  const auto kept = log_to_kept(mproc::log_level::info);
  const auto before = std::chrono::system_clock::now();
  mproc::process p(mproc::test::with(method), logs_at_each_level, 7);
  p.start();
  p.join();  // returns once the child's records are written
  const auto after = std::chrono::system_clock::now();
  const auto records = kept->all();
  BOOST_TEST_REQUIRE(records.size() == 3u);  // not the debug one
  BOOST_TEST(records[0].text == "hello 7");
  BOOST_TEST(records[0].level == spdlog::level::info);
  BOOST_TEST(records[1].text == "through spdlog's default logger 7");
  BOOST_TEST(records[1].level == spdlog::level::warn);
  BOOST_TEST(records[2].text == "two lines,\nspaces and a \\ backslash");
  BOOST_TEST(records[2].level == spdlog::level::err);
  for (const auto& r : records) {
    BOOST_TEST(r.name == p.name());
    BOOST_TEST(r.pid == p.pid());
    BOOST_TEST((r.time >= before && r.time <= after));
  }
}

BOOST_AUTO_TEST_CASE(the_logging_process_logs_as_itself) {
  const auto kept = log_to_kept(mproc::log_level::warning);
  BOOST_TEST(!mproc::log_enabled(mproc::log_level::info));
  mproc::log(mproc::log_level::info, "dropped");
  mproc::log(mproc::log_level::warning, "kept {}", 1);
  const auto records = kept->all();
  BOOST_TEST_REQUIRE(records.size() == 1u);
  BOOST_TEST(records[0].name == "MainProcess");
  BOOST_TEST(records[0].pid == mproc::test::this_pid());
  BOOST_TEST(records[0].text == "kept 1");
}

BOOST_AUTO_TEST_CASE(without_logging_nothing_is_sent_or_written) {
  BOOST_TEST(!mproc::log_enabled(mproc::log_level::critical));
  mproc::log(mproc::log_level::critical, "nowhere");  // no logger, no channel: nothing happens
  mproc::process p(logs_at_each_level, 1);
  p.start();
  p.join();
  BOOST_TEST(p.exitcode().value_or(-1) == 0);
}

BOOST_AUTO_TEST_CASE(long_records_of_four_processes_arrive_whole) {
  const auto kept = log_to_kept(mproc::log_level::info);
  constexpr int children = 4;
  constexpr int records = 200;  // of 5000 bytes: two writes each, which must not mix
  std::vector<mproc::process> loggers;
  for (int child = 0; child < children; ++child) loggers.emplace_back(logs_long_records, child, records);
  for (auto& p : loggers) p.start();
  for (auto& p : loggers) p.join();
  std::map<int, int> next;  // per child
  std::size_t broken = 0;
  for (const auto& r : kept->all()) {
    const int child = r.text[0] - '0';
    const std::string expected = std::to_string(child) + " " + std::to_string(next[child]) + " " +
                                 std::string(5000, static_cast<char>('a' + child));
    if (child < 0 || child >= children || r.text != expected) {
      ++broken;
      continue;
    }
    BOOST_TEST(r.pid == loggers[static_cast<std::size_t>(child)].pid());
    ++next[child];
  }
  BOOST_TEST(broken == 0u);
  for (int child = 0; child < children; ++child) BOOST_TEST(next[child] == records);
}

BOOST_AUTO_TEST_CASE(log_to_stderr_writes_as_python_does) {
  mproc::test::stream_capture err(2);
  mproc::log_to_stderr(mproc::log_level::info);
  mproc::process p(logs_at_each_level, 3);
  p.start();
  p.join();
  const std::string written = err.text();
  BOOST_TEST(mproc::test::contains_line(written, "[INFO/" + p.name() + "] hello 3"), written);
  BOOST_TEST(mproc::test::contains_line(written, "[WARNING/" + p.name() + "] through spdlog's default logger 3"),
             written);
  BOOST_TEST(mproc::test::contains_line(written, "[ERROR/" + p.name() + "] two lines,"), written);
}

MPROC_TEST_EACH_METHOD(grandchildren_records_reach_the_logging_process_too) {
  const auto kept = log_to_kept(mproc::log_level::info);
  mproc::process p(mproc::test::with(method), starts_two_that_log);
  p.start();
  p.join();
  std::map<std::string, int> per_sender;
  for (const auto& r : kept->all()) ++per_sender[r.name];
  BOOST_TEST(per_sender.size() == 2u);
  BOOST_TEST(per_sender[p.name() + ":1"] == 3);  // "Process-1:1", as Python names a child's child
  BOOST_TEST(per_sender[p.name() + ":2"] == 3);
}

MPROC_TEST_EACH_METHOD(pool_workers_records_reach_the_logging_process) {
  const auto kept = log_to_kept(mproc::log_level::info);
  {
    mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
    BOOST_TEST((workers.map(logs_in_a_task, std::vector<int>{1, 2, 3, 4}, 1) == std::vector<int>{1, 2, 3, 4}));
  }  // the pool's end joins its workers: their records are out
  std::vector<std::string> texts;
  for (const auto& r : kept->all()) {
    BOOST_TEST(r.name.rfind("PoolWorker-", 0) == 0u, r.name);
    texts.push_back(r.text);
  }
  std::sort(texts.begin(), texts.end());
  BOOST_TEST((texts == std::vector<std::string>{"task 1", "task 2", "task 3", "task 4"}));
}

BOOST_AUTO_TEST_SUITE_END()
