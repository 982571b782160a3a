// Seeing what children do: their output, captured and tagged, and progress
// that a task reports from inside.
#include "support/scratch.hpp"

#include <mproc/output.hpp>
#include <mproc/pool.hpp>
#include <mproc/process.hpp>
#include <mproc/sync.hpp>
#include <mproc/this_task.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstddef>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

int reports_progress(int steps) {
  for (int i = 1; i <= steps; ++i) {
    std::this_thread::sleep_for(20ms);
    mproc::report_progress(static_cast<std::size_t>(i), static_cast<std::size_t>(steps));
  }
  return steps;
}

// What a pool's progress callback was called with.
struct progress_calls {
  std::mutex mutex;
  std::vector<std::pair<std::size_t, std::size_t>> calls;

  std::function<void(std::size_t, std::size_t)> callback() {
    return [this](std::size_t done, std::size_t total) {
      std::scoped_lock lock(mutex);
      calls.emplace_back(done, total);
    };
  }
};

void reports_steps(int steps) { reports_progress(steps); }

// Its child reports too, in units of 7: none of those reach our parent. The
// child is forked where fork exists: it inherits its parent's channel.
void reports_with_a_child_reporting(int steps) {
  const auto methods = mproc::all_start_methods();
  const bool can_fork = std::ranges::find(methods, mproc::start_method::fork) != methods.end();
  mproc::process child(mproc::process_options{.method = can_fork ? mproc::start_method::fork
                                                                  : mproc::start_method::spawn},
                       reports_steps, 7);
  child.start();
  child.join();
  if (child.exitcode() != 0) std::exit(3);
  reports_progress(steps);
}

// The calls process_options::progress got from a process running target(steps),
// once join() has returned.
std::vector<std::pair<std::size_t, std::size_t>> reports_of(mproc::start_method method, void (*target)(int),
                                                            int steps) {
  progress_calls seen;
  auto options = mproc::test::with(method);
  options.progress = seen.callback();
  mproc::process p(options, target, steps);
  p.start();
  p.join();  // returns once the reports are in
  BOOST_TEST(p.exitcode().value_or(-1) == 0);
  std::scoped_lock lock(seen.mutex);
  return seen.calls;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(progress_from_inside_a_task)

MPROC_TEST_EACH_METHOD(a_plain_process_reports_to_its_parents_callback) {
  const auto calls = reports_of(method, reports_steps, 5);
  BOOST_TEST_REQUIRE(calls.size() >= 4u);  // 20 ms apart: none needs to be dropped
  BOOST_TEST((calls.back() == std::pair<std::size_t, std::size_t>{5, 5}));
  std::size_t last = 0;
  for (const auto& [done, total] : calls) {
    BOOST_TEST(total == 5u);
    BOOST_TEST(done > last);
    last = done;
  }
}

MPROC_TEST_EACH_METHOD(a_grandchilds_reports_do_not_reach_the_grandparent) {
  const auto calls = reports_of(method, reports_with_a_child_reporting, 3);
  BOOST_TEST_REQUIRE(!calls.empty());
  for (const auto& call : calls) BOOST_TEST(call.second == 3u);
}

MPROC_TEST_EACH_METHOD(a_single_task_moves_the_progress_callback_as_it_reports) {
  progress_calls seen;
  mproc::pool workers(mproc::pool_options{.processes = 1, .method = method, .progress = seen.callback()});
  BOOST_TEST(workers.apply(reports_progress, 5) == 5);
  std::scoped_lock lock(seen.mutex);
  BOOST_TEST_REQUIRE(seen.calls.size() >= 4u);  // a report may be dropped, not most of them
  BOOST_TEST((seen.calls.back() == std::pair<std::size_t, std::size_t>{1, 1}));  // the task's end, in items
  std::size_t last = 0;
  for (std::size_t i = 0; i + 1 < seen.calls.size(); ++i) {
    BOOST_TEST(seen.calls[i].second == 5u);  // the task's own units
    BOOST_TEST(seen.calls[i].first > last);  // in order
    last = seen.calls[i].first;
  }
}

BOOST_AUTO_TEST_CASE(a_job_of_several_chunks_moves_as_its_chunks_finish) {
  progress_calls seen;
  mproc::pool workers(mproc::pool_options{.processes = 2, .progress = seen.callback()});
  BOOST_TEST((workers.map(reports_progress, std::vector<int>{3, 3, 3}, 1) == std::vector<int>{3, 3, 3}));
  std::scoped_lock lock(seen.mutex);
  BOOST_TEST_REQUIRE(seen.calls.size() == 3u);
  for (std::size_t i = 0; i < 3; ++i) BOOST_TEST((seen.calls[i] == std::pair<std::size_t, std::size_t>{i + 1, 3}));
}

// Chunks of 2 items: without the tasks' reports, the bar would move by 2.
// Every call counts items of the whole job, and never goes back.
static void check_items_move_within_chunks(progress_calls& seen, std::size_t items) {
  std::scoped_lock lock(seen.mutex);
  BOOST_TEST_REQUIRE(!seen.calls.empty());
  BOOST_TEST((seen.calls.back() == std::pair<std::size_t, std::size_t>{items, items}));
  bool odd = false;
  std::size_t last = 0;
  for (const auto& [done, total] : seen.calls) {
    BOOST_TEST(total == items);
    BOOST_TEST(done >= last);
    last = done;
    odd = odd || done % 2 == 1;
  }
  BOOST_TEST(odd, "no call between two chunk ends: the tasks' reports did not move the bar");
}

BOOST_AUTO_TEST_CASE(a_map_of_several_chunks_moves_by_items_as_its_tasks_report) {
  progress_calls seen;
  mproc::pool workers(mproc::pool_options{.processes = 2, .progress = seen.callback()});
  BOOST_TEST(workers.map(reports_progress, std::vector<int>(6, 5), 2) == std::vector<int>(6, 5));
  check_items_move_within_chunks(seen, 6);
}

BOOST_AUTO_TEST_CASE(an_imap_moves_by_items_as_its_tasks_report) {
  progress_calls seen;
  mproc::pool workers(mproc::pool_options{.processes = 2, .progress = seen.callback()});
  std::vector<int> got;
  for (int x : workers.imap(reports_progress, std::vector<int>(6, 5), 2)) got.push_back(x);
  BOOST_TEST(got == std::vector<int>(6, 5));
  check_items_move_within_chunks(seen, 6);
}

BOOST_AUTO_TEST_CASE(report_progress_outside_a_task_does_nothing) {
  mproc::report_progress(1, 2);  // no pool, no task: nothing to tell, nothing thrown
  progress_calls seen;
  mproc::pool workers(mproc::pool_options{.processes = 1, .progress = seen.callback()});
  mproc::report_progress(1, 2);
  BOOST_TEST(workers.apply(reports_progress, 0) == 0);
  std::scoped_lock lock(seen.mutex);
  BOOST_TEST(seen.calls.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

struct seen_line {
  mproc::process_info who;
  mproc::output_stream stream;
  std::string text;
};

// What an output handler was given.
struct seen_lines {
  std::mutex mutex;
  std::vector<seen_line> lines;

  mproc::output_handler handler() {
    return [this](const mproc::process_info& who, mproc::output_stream stream, std::string_view line) {
      std::scoped_lock lock(mutex);
      lines.push_back({who, stream, std::string(line)});
    };
  }
  std::vector<std::string> texts(mproc::output_stream stream) {
    std::scoped_lock lock(mutex);
    std::vector<std::string> found;
    for (const auto& line : lines) {
      if (line.stream == stream) found.push_back(line.text);
    }
    return found;
  }
};

void writes_a_little() {
  std::cout << "one\n";
  std::cout << "two\r\n" << std::flush;  // a Windows line end is a line end
  std::cerr << "trouble\n";
  std::cout << "three, without its line end";
}

void writes_then_dies(int lines) {
  std::cerr << "last words\n";  // first: std::cerr flushes std::cout, to which it is tied
  for (int i = 0; i < lines; ++i) std::cout << "line " << i << '\n';  // no flush: line buffering writes it
  mproc::test::kill_process(mproc::test::this_pid());
}

void writes_numbered_lines(int child, int lines) {
  const std::string padding(60, 'x');  // long enough for lines to straddle the parent's reads
  for (int i = 0; i < lines; ++i) std::cout << "child " << child << " line " << i << ' ' << padding << '\n';
}

void writes_without_line_ends(int size) { std::cout << std::string(static_cast<std::size_t>(size), 'x'); }

int talks_then_returns(int x) {
  std::cout << "task " << x << " here" << std::endl;
  return x;
}

int says_why_then_dies(int x) {
  std::cerr << "about to fail on " << x << std::endl;
  std::abort();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(captured_output)

MPROC_TEST_EACH_METHOD(lines_reach_a_handler_with_who_wrote_them) {
  seen_lines seen;
  auto options = mproc::test::with(method);
  options.capture_output = seen.handler();
  mproc::process p(options, writes_a_little);
  p.start();
  p.join();  // returns once the lines are delivered
  BOOST_TEST(p.exitcode().value_or(-1) == 0);
  BOOST_TEST((seen.texts(mproc::output_stream::out) ==
              std::vector<std::string>{"one", "two", "three, without its line end"}));
  BOOST_TEST((seen.texts(mproc::output_stream::err) == std::vector<std::string>{"trouble"}));
  std::scoped_lock lock(seen.mutex);
  for (const auto& line : seen.lines) {
    BOOST_TEST(line.who.name == p.name());
    BOOST_TEST(line.who.pid == p.pid());
  }
}

MPROC_TEST_EACH_METHOD(tagged_lines_go_to_the_parents_streams_with_name_and_pid) {
  mproc::test::stream_capture out(1);
  mproc::test::stream_capture err(2);
  auto options = mproc::test::with(method);
  options.capture_output = true;
  mproc::process p(options, writes_a_little);
  p.start();
  p.join();
  const std::string tag = "[" + p.name() + " " + std::to_string(p.pid()) + "] ";
  const std::string printed = out.text();
  const std::string complained = err.text();
  BOOST_TEST(mproc::test::contains_line(printed, tag + "one"), printed);
  BOOST_TEST(mproc::test::contains_line(printed, tag + "two"), printed);
  BOOST_TEST(mproc::test::contains_line(printed, tag + "three, without its line end"), printed);
  BOOST_TEST(mproc::test::contains_line(complained, tag + "trouble"), complained);
}

MPROC_TEST_EACH_METHOD(what_a_killed_child_wrote_is_delivered) {
  seen_lines seen;
  auto options = mproc::test::with(method);
  options.capture_output = seen.handler();
  mproc::process p(options, writes_then_dies, 100);
  p.start();
  p.join();
  BOOST_TEST(p.exitcode().value_or(0) != 0);
  const auto lines = seen.texts(mproc::output_stream::out);
  BOOST_TEST_REQUIRE(lines.size() == 100u);  // a fully buffered stdout would have lost them all
  for (std::size_t i = 0; i < lines.size(); ++i) BOOST_TEST(lines[i] == "line " + std::to_string(i));
  BOOST_TEST((seen.texts(mproc::output_stream::err) == std::vector<std::string>{"last words"}));
}

BOOST_AUTO_TEST_CASE(four_children_writing_10000_lines_each_never_mix_lines) {
  constexpr int children = 4;
  constexpr int lines = 10000;
  mproc::test::stream_capture out(1);
  std::vector<mproc::process> writers;
  for (int child = 0; child < children; ++child) {
    writers.emplace_back(mproc::process_options{.capture_output = true}, writes_numbered_lines, child, lines);
  }
  for (auto& writer : writers) writer.start();
  for (auto& writer : writers) writer.join();
  const std::string printed = out.text();
  const std::regex whole(R"(\[Process-[0-9:]+ ([0-9]+)\] child ([0-9]) line ([0-9]+) x{60})");
  std::map<int, int> next_line;  // per child
  std::size_t mixed = 0;
  for (const auto& line : mproc::test::lines_of(printed)) {
    std::smatch parts;
    if (!std::regex_match(line, parts, whole)) {
      if (++mixed <= 3) BOOST_TEST_MESSAGE("not a whole line: " << line.substr(0, 200));
      continue;
    }
    const int child = std::stoi(parts[2]);
    BOOST_TEST(std::stoi(parts[1]) == writers[static_cast<std::size_t>(child)].pid());
    BOOST_TEST(std::stoi(parts[3]) == next_line[child]);  // in order, none missing
    ++next_line[child];
  }
  BOOST_TEST(mixed == 0u);
  for (int child = 0; child < children; ++child) BOOST_TEST(next_line[child] == lines);
}

BOOST_AUTO_TEST_CASE(a_line_without_end_is_delivered_in_pieces_of_max_output_line) {
  seen_lines seen;
  constexpr int size = 200 * 1024;
  mproc::process p(mproc::process_options{.capture_output = seen.handler()}, writes_without_line_ends, size);
  p.start();
  p.join();
  const auto pieces = seen.texts(mproc::output_stream::out);
  BOOST_TEST_REQUIRE(pieces.size() == 4u);
  for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(pieces[i].size() == mproc::max_output_line);
  BOOST_TEST(pieces[3].size() == size - 3 * mproc::max_output_line);
}

BOOST_AUTO_TEST_CASE(capturing_leaves_no_descriptor_behind) {
  seen_lines seen;
  {  // the output thread's own descriptors are made once
    mproc::process first(mproc::process_options{.capture_output = seen.handler()}, writes_without_line_ends, 0);
    first.start();
    first.join();
  }
  const int before = mproc::test::open_descriptor_count();
  for (int i = 0; i < 3; ++i) {
    mproc::process p(mproc::process_options{.capture_output = seen.handler()}, writes_without_line_ends, 10);
    p.start();
    p.join();
  }
  BOOST_TEST(mproc::test::eventually([&] { return mproc::test::open_descriptor_count() == before; }),
             mproc::test::open_descriptor_count() << " descriptors, " << before << " before");
}

MPROC_TEST_EACH_METHOD(a_pool_tags_its_workers_lines_and_a_lost_task_ends_with_its_last_stderr_lines) {
  seen_lines seen;
  mproc::pool workers(mproc::pool_options{.processes = 1, .method = method, .capture_output = seen.handler()});
  BOOST_TEST(workers.apply(talks_then_returns, 7) == 7);
  // The result may overtake the line: they travel apart.
  BOOST_TEST(mproc::test::eventually([&] { return !seen.texts(mproc::output_stream::out).empty(); }));
  {
    std::scoped_lock lock(seen.mutex);
    BOOST_TEST_REQUIRE(!seen.lines.empty());
    BOOST_TEST(seen.lines[0].text == "task 7 here");
    BOOST_TEST(seen.lines[0].who.name == "PoolWorker-1");
  }
  try {
    workers.apply(says_why_then_dies, 3);
    BOOST_FAIL("the task's worker died; its call must fail");
  } catch (const mproc::worker_lost_error& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find("the last lines it wrote to stderr:\n  about to fail on 3") != std::string::npos, what);
  }
  BOOST_TEST(workers.apply(talks_then_returns, 8) == 8);  // a replacement took over
}

BOOST_AUTO_TEST_SUITE_END()
