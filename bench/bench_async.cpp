// Asio-native waits beside their blocking twins, in one run: a child's end
// (async_join vs join), a pool result (async_get vs get), queue items, a pipe
// round trip, and a thousand children awaited at once on one thread (time,
// and threads the parent adds).
//
//   bench_async [--json] [--rounds N]
#include <mproc/mproc.hpp>

#include "report.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdint>
#include <chrono>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

namespace {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

void trivial() {}
void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
int square(int x) { return x * x; }

int thread_count() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++count;
  return count;
}

void start_join() {
  mproc::process p(mproc::process_options{.method = mproc::start_method::fork}, trivial);
  p.start();
  p.join();
}

void start_async_join(asio::io_context& ctx) {
  mproc::process p(mproc::process_options{.method = mproc::start_method::fork}, trivial);
  p.start();
  int code = -1;
  p.async_join(ctx, [&](std::exception_ptr, int c) { code = c; });
  ctx.restart();
  ctx.run();
  if (code != 0) throw std::runtime_error("async_join did not see the child end with 0");
}

void put_items(mproc::queue<std::int64_t> items, int count) {
  for (int i = 0; i < count; ++i) items.put(i);
}

// A forked producer puts `count` 8-byte items; this process takes them with
// get() or, awaiting each, with async_get(). Items per second.
double queue_items_per_s(bool awaited, int count) {
  mproc::queue<std::int64_t> items;
  mproc::process producer(mproc::process_options{.method = mproc::start_method::fork}, put_items, items, count);
  const auto begin = clock_type::now();
  producer.start();
  std::int64_t sum = 0;
  if (awaited) {
    asio::io_context ctx;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < count; ++i) sum += co_await items.async_get(ctx, asio::use_awaitable);
        },
        asio::detached);
    ctx.run();
  } else {
    for (int i = 0; i < count; ++i) sum += items.get();
  }
  const double seconds = std::chrono::duration<double>(clock_type::now() - begin).count();
  producer.join();
  if (sum != std::int64_t{count} * (count - 1) / 2) throw std::runtime_error("items were lost");
  return count / seconds;
}

// A forked child echoes 8-byte messages until 0.
void echo(mproc::connection end) {
  while (const std::int64_t x = end.recv<std::int64_t>()) end.send(x);
}

// Round trips of an 8-byte message to an echoing child: send + recv, or
// awaited async_send + async_recv. Microseconds per round trip.
double pipe_round_trip_us(bool awaited, int count) {
  auto [mine, theirs] = mproc::pipe();
  mproc::process child(mproc::process_options{.method = mproc::start_method::fork}, echo, theirs);
  child.start();
  theirs.close();
  const auto begin = clock_type::now();
  std::int64_t sum = 0;
  if (awaited) {
    asio::io_context ctx;
    asio::co_spawn(
        ctx,
        [&, end = mine]() mutable -> asio::awaitable<void> {
          for (std::int64_t i = 1; i <= count; ++i) {
            co_await end.async_send(ctx, i, asio::use_awaitable);
            sum += co_await end.async_recv<std::int64_t>(ctx, asio::use_awaitable);
          }
        },
        asio::detached);
    ctx.run();
  } else {
    for (std::int64_t i = 1; i <= count; ++i) {
      mine.send(i);
      sum += mine.recv<std::int64_t>();
    }
  }
  const double us = std::chrono::duration<double, std::micro>(clock_type::now() - begin).count() / count;
  mine.send(std::int64_t{0});
  child.join();
  if (sum != std::int64_t{count} * (count + 1) / 2) throw std::runtime_error("messages were lost");
  return us;
}

// A thousand children sleeping 200 ms, started at once, each awaited by its
// own coroutine on this thread.
void thousand_children(bench::report& report) {
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;  // two descriptors per child: its pidfd and the reactor's copy
  ::setrlimit(RLIMIT_NOFILE, &files);
  const int threads_before = thread_count();
  const auto begin = clock_type::now();
  std::vector<mproc::process> children;
  children.reserve(1000);
  for (int i = 0; i < 1000; ++i) {
    children.emplace_back(mproc::process_options{.method = mproc::start_method::fork}, sleep_ms, 200);
    children.back().start();
  }
  asio::io_context ctx;
  int finished = 0;
  int most_threads = thread_count();
  for (auto& child : children) {
    asio::co_spawn(
        ctx,
        [&ctx, &finished, &most_threads, waited = &child]() -> asio::awaitable<void> {
          co_await waited->async_join(ctx, asio::use_awaitable);
          ++finished;
          if (finished % 100 == 0) most_threads = std::max(most_threads, thread_count());
        },
        asio::detached);
  }
  ctx.run();
  const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - begin).count();
  if (finished != 1000) throw std::runtime_error("not every child was awaited");
  report.add("async_1000_children_ms", ms, "ms", "1000 forked children sleeping 200 ms, started then awaited on one thread");
  report.add("async_1000_children_extra_threads", most_threads - threads_before, "threads",
             "goal <= 4: threads the parent had beyond those before");
}

}  // namespace

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  const auto [json, rounds] = bench::parse_options(argc, argv, 300);
  bench::report report;

  asio::io_context ctx;
  std::vector<bench::subject> ends{
      {"join_us", "fork start + join, trivial target", start_join, {}},
      {"async_join_us", "fork start + async_join on an io_context", [&] { start_async_join(ctx); }, {}}};
  bench::measure_interleaved(ends, rounds);

  mproc::pool workers(1);
  std::vector<bench::subject> results{
      {"get_us", "apply_async + get, pool of 1", [&] { workers.apply_async(square, 3).get(); }, {}},
      {"async_get_us", "apply_async + async_get on an io_context",
       [&] {
         int value = 0;
         workers.apply_async(square, 3).async_get(ctx, [&](std::exception_ptr, int v) { value = v; });
         ctx.restart();
         ctx.run();
         if (value != 9) throw std::runtime_error("async_get did not deliver the result");
       },
       {}}};
  bench::measure_interleaved(results, rounds * 10);

  for (auto* group : {&ends, &results}) {
    for (auto& s : *group) report.add(s.name, bench::median(s.samples_us), "us", s.note + " (median)");
  }
  std::vector<double> blocking_rates;
  std::vector<double> awaited_rates;
  for (int i = 0; i < 5; ++i) {  // alternated, so both see the same machine
    blocking_rates.push_back(queue_items_per_s(false, 200000));
    awaited_rates.push_back(queue_items_per_s(true, 200000));
  }
  report.add("queue_get_8B_per_s", bench::median(blocking_rates), "items/s", "forked producer, get() (median of 5)");
  report.add("queue_async_get_8B_per_s", bench::median(awaited_rates), "items/s",
             "forked producer, co_await async_get() (median of 5)");
  report.add("async_queue_get_vs_get", report.find("queue_get_8B_per_s")->value / report.find("queue_async_get_8B_per_s")->value,
             "ratio", "time per awaited item over time per got item; goal <= 1.5");
  std::vector<double> blocking_trips;
  std::vector<double> awaited_trips;
  for (int i = 0; i < 5; ++i) {
    blocking_trips.push_back(pipe_round_trip_us(false, 20000));
    awaited_trips.push_back(pipe_round_trip_us(true, 20000));
  }
  report.add("pipe_round_trip_8B_us", bench::median(blocking_trips), "us", "forked echo child, send + recv (median of 5)");
  report.add("pipe_async_round_trip_8B_us", bench::median(awaited_trips), "us",
             "forked echo child, co_await async_send + async_recv (median of 5)");
  report.add_ratio("async_pipe_vs_pipe", "pipe_async_round_trip_8B_us", "pipe_round_trip_8B_us");
  report.add_ratio("async_join_vs_join", "async_join_us", "join_us", "goal <= 1.5");
  report.add_ratio("async_get_vs_get", "async_get_us", "get_us", "goal <= 1.5");
  thousand_children(report);
  report.print(json);
}
