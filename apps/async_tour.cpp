// Asynchronous waits, all on one thread: three coroutines share one
// io_context. The first starts three children and awaits whichever ends first
// (with a timeout), then the other two; the second consumes a queue that a
// child fills; the third awaits three pool results together and shows them in
// the order they completed. Their lines interleave: they wait at the same time,
// and no thread is parked per wait.
#include <mproc/mproc.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

void work_for(int tenths) { std::this_thread::sleep_for(std::chrono::milliseconds(100 * tenths)); }

void produce(mproc::queue<int> items) {
  for (int i = 1; i <= 5; ++i) {
    std::this_thread::sleep_for(60ms);
    items.put(i * i);
  }
  items.shutdown();  // no more items: the consumer's wait ends with closed_error once they are taken
}

int task_taking(int tenths) {
  work_for(tenths);
  return tenths;
}

const auto main_thread = std::this_thread::get_id();
bool all_on_main_thread = true;

void say(const std::string& line) {
  all_on_main_thread = all_on_main_thread && std::this_thread::get_id() == main_thread;
  std::cout << line << std::endl;
}

asio::awaitable<void> first_child_to_end(asio::io_context& ctx) {
  std::vector<mproc::process> children;
  children.emplace_back(mproc::process_options{.name = "slow"}, work_for, 10);
  children.emplace_back(mproc::process_options{.name = "quick"}, work_for, 2);
  children.emplace_back(mproc::process_options{.name = "middle"}, work_for, 6);
  for (auto& child : children) child.start();
  say("children: started slow (1 s), quick (0.2 s) and middle (0.6 s)");
  asio::steady_timer timeout(ctx, 5s);
  auto first = co_await (children[0].async_join(ctx, asio::use_awaitable) ||
                         children[1].async_join(ctx, asio::use_awaitable) ||
                         children[2].async_join(ctx, asio::use_awaitable) || timeout.async_wait(asio::use_awaitable));
  if (first.index() == 3) {
    say("children: none ended within 5 s");
    co_return;
  }
  say("children: first to end: " + children[first.index()].name() + " (the other waits were cancelled; they run on)");
  for (auto& child : children) {
    const int code = co_await child.async_join(ctx, asio::use_awaitable);
    say("children: " + child.name() + " ended with exit code " + std::to_string(code));
  }
}

asio::awaitable<void> consume_queue(asio::io_context& ctx) {
  mproc::queue<int> items;
  mproc::process producer(produce, items);
  producer.start();
  int count = 0;
  try {
    for (;;) {
      const int item = co_await items.async_get(ctx, asio::use_awaitable);
      say("queue: got " + std::to_string(item));
      ++count;
    }
  } catch (const mproc::closed_error&) {
    say("queue: shut down by its producer after " + std::to_string(count) + " items");
  }
  co_await producer.async_join(ctx, asio::use_awaitable);
}

asio::awaitable<void> pool_results(asio::io_context& ctx) {
  mproc::pool workers(3);
  auto slowest = workers.apply_async(task_taking, 9);
  auto fastest = workers.apply_async(task_taking, 1);
  auto middle = workers.apply_async(task_taking, 5);
  say("pool: three tasks submitted, taking 0.9, 0.1 and 0.5 s");
  auto [order, e1, r1, e2, r2, e3, r3] =
      co_await asio::experimental::make_parallel_group(slowest.async_get(ctx, asio::deferred),
                                                       fastest.async_get(ctx, asio::deferred),
                                                       middle.async_get(ctx, asio::deferred))
          .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  const std::array<int, 3> results{r1, r2, r3};
  std::string line = "pool: results in completion order:";
  for (std::size_t i : order) line += " " + std::to_string(results[i]) + " tenths";
  say(line);
  for (const auto& failure : {e1, e2, e3}) {
    if (failure) std::rethrow_exception(failure);
  }
}

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  asio::io_context ctx;
  auto rethrow = [](std::exception_ptr failure) {
    if (failure) std::rethrow_exception(failure);
  };
  asio::co_spawn(ctx, first_child_to_end(ctx), rethrow);
  asio::co_spawn(ctx, consume_queue(ctx), rethrow);
  asio::co_spawn(ctx, pool_results(ctx), rethrow);
  ctx.run();  // this thread runs all three coroutines
  std::cout << "all three coroutines ran on the main thread: " << std::boolalpha << all_on_main_thread << std::endl;
}
