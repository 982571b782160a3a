// Promises kept under attack: timeouts of any size, values of another type,
// decoders fed crafted bytes.
#include "support/scratch.hpp"

#include <mproc/detail/archive.hpp>
#include <mproc/pipe.hpp>
#include <mproc/pool.hpp>
#include <mproc/process.hpp>
#include <mproc/queue.hpp>
#include <mproc/shared.hpp>
#include <mproc/shared_containers.hpp>
#include <mproc/sync.hpp>

#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <span>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using mproc::test::with;

namespace {

constexpr auto forever = std::chrono::hours::max();

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
int sleep_then_return(int ms) {
  sleep_ms(ms);
  return ms;
}

int square(int x) { return x * x; }
int slow_square(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return x * x;
}
void failing_setup() { throw std::runtime_error("no setup for you"); }

std::vector<int> range(int n) {
  std::vector<int> all(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) all[static_cast<std::size_t>(i)] = i;
  return all;
}

// Makes and drops every kind of shared object, for ever: killed at any moment,
// it is in the middle of making one.
void churn_objects() {
  for (;;) {
    mproc::queue<int> q;
    mproc::value<int> v;
    mproc::lock l;
    mproc::event e;
    mproc::barrier b(2);
    mproc::shared_list<int> list;
    q.put(1);
    v.set(2);
  }
}

void exit_with(int code) { std::exit(code); }

void put_then_wait(mproc::queue<int> items, mproc::event done, int i) {
  items.put(i);
  done.wait();
}

// A block counted at most 256 users: the 257th process given one queue could
// not start. 300 children hold the same queue and event at once.
void three_hundred_share_one_queue(mproc::start_method method) {
  mproc::queue<int> items;
  mproc::event done;
  std::vector<mproc::process> children;
  children.reserve(300);
  for (int i = 0; i < 300; ++i) children.emplace_back(with(method), put_then_wait, items, done, i);
  for (auto& child : children) BOOST_REQUIRE_NO_THROW(child.start());
  std::set<int> seen;
  for (int i = 0; i < 300; ++i) seen.insert(items.get(std::chrono::seconds(60)));
  done.set();
  for (auto& child : children) {
    child.join();
    BOOST_TEST_REQUIRE(child.exitcode().value() == 0);
  }
  BOOST_TEST(seen.size() == 300u);
}

bool no_block_of(int pid) {
  const std::string prefix = "mproc_" + std::to_string(pid) + "_";
  for (const auto& name : mproc::test::shared_memory_names()) {
    if (name.starts_with(prefix)) return false;
  }
  return true;
}

// A name was created, then sized, then told to the tracker: a SIGKILL in
// between left it in /dev/shm for good.
void kill_while_making_objects(mproc::start_method method) {
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(20, 150);
  int leftovers = 0;
  for (int round = 0; round < 8; ++round) {
    mproc::process churner(with(method), churn_objects);
    churner.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    churner.kill();
    churner.join();
    if (!mproc::test::eventually([&] { return no_block_of(churner.pid()); }, 10.0)) ++leftovers;
  }
  BOOST_TEST(leftovers == 0);
}

template <class F>
double seconds_taken(F f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(timeouts)

// hours::max() in nanoseconds overflows: every wait returned at once.
BOOST_AUTO_TEST_CASE(a_huge_timeout_waits_as_long_as_it_takes) {
  mproc::process child(sleep_ms, 200);
  child.start();
  BOOST_TEST(child.join(forever));
  BOOST_TEST(child.join(std::chrono::duration<double>(1e300)));  // a floating one too

  mproc::queue<int> q;
  std::thread producer([&] {
    sleep_ms(200);
    q.put(5);
  });
  BOOST_TEST(q.get(forever) == 5);
  producer.join();

  mproc::event ready;
  std::thread setter([&] {
    sleep_ms(200);
    ready.set();
  });
  BOOST_TEST(ready.wait(forever));
  setter.join();

  mproc::lock held;
  mproc::event locked;
  std::thread holder([&] {
    held.lock();
    locked.set();
    sleep_ms(200);
    held.unlock();
  });
  locked.wait();
  BOOST_TEST(held.try_lock_for(forever));
  held.unlock();
  holder.join();

  mproc::pool workers(1);
  BOOST_TEST(workers.apply_async(sleep_then_return, 200).get(forever) == 200);
  BOOST_TEST(workers.apply_async(sleep_then_return, 200).wait(std::chrono::years(1000)));
}

BOOST_AUTO_TEST_CASE(a_negative_timeout_does_not_wait) {
  mproc::process child(sleep_ms, 2000);
  child.start();
  mproc::queue<int> q;
  mproc::event never;
  mproc::pool workers(1);
  auto slow = workers.apply_async(sleep_then_return, 1000);
  const double took = seconds_taken([&] {
    BOOST_TEST(!child.join(-1s));
    BOOST_TEST(!child.join(std::chrono::nanoseconds::min()));
    BOOST_CHECK_THROW(q.get(-1s), mproc::queue_empty);
    BOOST_CHECK_THROW(q.get(std::chrono::hours::min()), mproc::queue_empty);
    BOOST_TEST(!never.wait(-1s));
    BOOST_TEST(!slow.wait(-1s));
    BOOST_CHECK_THROW(slow.get(-1h), mproc::timeout_error);
  });
  BOOST_TEST(took < 0.5);
  child.terminate();
  child.join();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(values_of_another_type)

// The README promises serialization_error; "abc" read as an int gave 3.
BOOST_AUTO_TEST_CASE(a_value_read_as_another_type_is_refused) {
  auto [a, b] = mproc::pipe();
  a.send(std::string("abc"));
  a.send(std::uint64_t{7});
  a.send(1.5f);
  a.send(42);
  BOOST_CHECK_THROW(b.recv<int>(), mproc::serialization_error);
  BOOST_CHECK_THROW(b.recv<int>(), mproc::serialization_error);
  BOOST_CHECK_THROW(b.recv<int>(), mproc::serialization_error);  // same size, another type
  BOOST_TEST(b.recv<int>() == 42);                                // and the connection goes on
}

BOOST_AUTO_TEST_CASE(bytes_left_over_are_an_error) {
  const std::string text = mproc::detail::to_bytes(std::string("abc"));
  BOOST_CHECK_THROW(mproc::detail::from_bytes<std::int32_t>(text), std::exception);
  const std::string wide = mproc::detail::to_bytes(std::uint64_t{7});
  BOOST_CHECK_THROW(mproc::detail::from_bytes<std::int32_t>(wide), std::exception);
  BOOST_TEST(mproc::detail::from_bytes<std::uint64_t>(wide) == 7u);
}

// Found by fuzz_archive: a byte other than 0 or 1 read into a bool (std::optional's flag).
BOOST_AUTO_TEST_CASE(a_corrupt_bool_is_refused) {
  BOOST_CHECK_THROW(mproc::detail::from_bytes<bool>(std::string("\x1b", 1)), std::exception);
  BOOST_CHECK_THROW(mproc::detail::from_bytes<std::optional<int>>(std::string("\x1b\0\0\0\0", 5)), std::exception);
  BOOST_TEST(mproc::detail::from_bytes<bool>(std::string("\x01", 1)));
  BOOST_TEST(!mproc::detail::from_bytes<std::optional<int>>(std::string("\x01", 1)).has_value());
}

BOOST_AUTO_TEST_CASE(a_string_literal_is_sent_as_a_string) {
  auto [a, b] = mproc::pipe();
  a.send("hello");
  BOOST_TEST(b.recv<std::string>() == "hello");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(decoding_amplification)

using big = std::array<std::uint64_t, 512>;

// [type tag][count][count bytes of 1]: a valid encoding of `count` empty
// optionals (cereal writes a "nullopt" flag: one byte each) that would take
// count x 4104 bytes of memory.
template <class T>
std::string empty_optionals_frame(std::uint64_t count) {
  std::string bytes;
  const std::uint32_t tag = mproc::detail::type_tag<T>();
  bytes.append(reinterpret_cast<const char*>(&tag), sizeof tag);
  bytes.append(reinterpret_cast<const char*>(&count), sizeof count);
  bytes.append(count, '\1');
  return bytes;
}

BOOST_AUTO_TEST_CASE(a_small_frame_cannot_make_the_decoder_allocate_gigabytes) {
  using crafted = std::vector<std::optional<big>>;
  const std::string frame = empty_optionals_frame<crafted>(500'000);  // 488 KiB; 1.96 GiB decoded
  BOOST_TEST(frame.size() < 500'000u + 16);
  auto [a, b] = mproc::pipe();
  std::thread sender([&] { a.send_bytes(std::as_bytes(std::span(frame))); });  // more than the socket holds
  BOOST_CHECK_EXCEPTION(b.recv<crafted>(), mproc::serialization_error, [](const mproc::serialization_error& e) {
    return std::string(e.what()).find("more memory than 64 times its size") != std::string::npos;
  });
  sender.join();
  a.send(7);
  BOOST_TEST(b.recv<int>() == 7);
  BOOST_CHECK_THROW(mproc::detail::from_bytes<crafted>(frame.substr(sizeof(std::uint32_t))), std::exception);
}

BOOST_AUTO_TEST_CASE(maps_lists_and_pointers_are_charged_too) {
  std::string map_frame;
  const std::uint64_t count = 100'000;
  map_frame.append(reinterpret_cast<const char*>(&count), sizeof count);
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto key = static_cast<std::int32_t>(i);
    map_frame.append(reinterpret_cast<const char*>(&key), sizeof key);
    map_frame += '\1';  // an empty optional
  }
  BOOST_CHECK_THROW((mproc::detail::from_bytes<std::map<std::int32_t, std::optional<big>>>(map_frame)),
                    std::exception);

  std::string list_frame(reinterpret_cast<const char*>(&count), sizeof count);
  list_frame.append(count, '\1');
  BOOST_CHECK_THROW(mproc::detail::from_bytes<std::list<std::optional<big>>>(list_frame), std::exception);

  std::string pointer_frame(reinterpret_cast<const char*>(&count), sizeof count);
  for (std::uint64_t i = 0; i < count; ++i) pointer_frame += std::string("\1\1", 2);  // present, empty optional
  BOOST_CHECK_THROW(mproc::detail::from_bytes<std::vector<std::unique_ptr<std::optional<big>>>>(pointer_frame),
                    std::exception);
}

BOOST_AUTO_TEST_CASE(honest_messages_still_decode) {
  auto [a, b] = mproc::pipe();
  const std::vector<std::optional<std::string>> sparse(10'000);  // 40 bytes of memory for each byte sent
  const std::vector<std::optional<big>> few{std::nullopt, big{}, std::nullopt};
  const std::map<int, std::string> words{{1, "one"}, {2, "two"}};
  const std::vector<std::uint64_t> numbers(100'000, 9);
  std::thread sender([&] {  // more than the socket holds
    a.send(sparse);
    a.send(few);
    a.send(words);
    a.send(numbers);
  });
  BOOST_TEST(b.recv<std::vector<std::optional<std::string>>>().size() == 10'000u);
  BOOST_TEST(b.recv<std::vector<std::optional<big>>>().size() == 3u);
  BOOST_TEST((b.recv<std::map<int, std::string>>() == words));
  BOOST_TEST((b.recv<std::vector<std::uint64_t>>() == numbers));
  sender.join();
}

// A ring as another process could leave it. A record claiming more bytes than
// were published made the consumer allocate its length (up to 4 GiB) and read
// past the data; an item whose rest never comes (no producer holds the put
// lock) made get() wait for ever, whatever its timeout.
std::string records(std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> heads) {
  std::string bytes;
  for (const auto& [length, flags] : heads) {
    bytes.append(reinterpret_cast<const char*>(&length), 4).append(reinterpret_cast<const char*>(&flags), 4);
    bytes.append((length + 7) / 8 * 8, 'x');
  }
  return bytes;
}

BOOST_AUTO_TEST_CASE(a_record_longer_than_what_was_published_is_refused) {
  mproc::detail::byte_queue ring(0, 64 * 1024);
  std::string forged = records({{16, 3}});
  const std::uint32_t huge = 0xfffffff0u;
  std::memcpy(forged.data(), &huge, 4);
  ring.load_ring_for_fuzzing(forged);
  BOOST_CHECK_EXCEPTION(ring.get(1s), mproc::error, [](const mproc::error& e) {
    return std::string(e.what()).find("corrupt") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(an_item_nobody_will_finish_does_not_hold_get_for_ever) {
  mproc::detail::byte_queue ring(0, 64 * 1024);
  ring.load_ring_for_fuzzing(records({{16, 1}}));  // a first part, and no producer
  std::optional<std::string_view> item;
  std::thread consumer([&] { item = ring.get(300ms); });
  consumer.join();
  BOOST_TEST(!item.has_value());
  ring.load_ring_for_fuzzing(records({{16, 1}, {5, 3}}));  // a first part, then a whole item
  const auto whole = ring.get(1s);
  BOOST_TEST_REQUIRE(whole.has_value());
  BOOST_TEST(whole->size() == 5u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pool_under_attack)

// The give-up rule took healthy workers killed from outside for a failing
// start-up: after 3 kills every later call threw "keep dying".
MPROC_TEST_EACH_METHOD(healthy_workers_killed_from_outside_are_always_replaced) {
  mproc::pool workers(mproc::pool_options{.processes = 4, .method = method});
  BOOST_TEST(workers.apply(square, 3) == 9);
  for (int kill = 0; kill < 5; ++kill) {
    std::this_thread::sleep_for(300ms);
    mproc::test::kill_process(workers.worker_pids()[0]);
  }
  std::this_thread::sleep_for(300ms);
  const auto squares = workers.map(square, range(100), 1);
  BOOST_TEST(squares[99] == 99 * 99);
  BOOST_TEST(workers.apply(square, 4) == 16);
}

BOOST_AUTO_TEST_CASE(a_failing_initializer_still_makes_the_pool_give_up) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .initializer = mproc::initializer(failing_setup)});
  BOOST_CHECK_THROW(workers.apply(square, 3), mproc::error);
}

// Kills every 10 ms: every task is done or lost, and the pool still works after.
// Kills one of the pool's workers every `interval`, in turn, until `stop`. A
// sanitizer's worker needs about 0.2 s to start on a host with costly page
// faults (measured: 0.2 s to list the tests, 10,800 page faults), where a
// worker killed every 4 x 50 ms would never start and the pool rightly give
// up: there a worker is killed only once it is 600 ms old.
std::thread start_killer(mproc::pool& workers, std::atomic<bool>& stop, std::chrono::milliseconds interval) {
  return std::thread([&workers, &stop, interval] {
    const auto grown_up = mproc::test::under_sanitizer ? 600ms : 0ms;
    std::map<int, std::chrono::steady_clock::time_point> first_seen;
    std::size_t next = 0;
    while (!stop.load()) {
      std::this_thread::sleep_for(interval);
      const auto now = std::chrono::steady_clock::now();
      std::vector<int> old_enough;
      for (const int pid : workers.worker_pids()) {
        const auto seen = first_seen.try_emplace(pid, now).first->second;
        if (now - seen >= grown_up) old_enough.push_back(pid);
      }
      if (!old_enough.empty() && !stop.load()) mproc::test::kill_process(old_enough[next++ % old_enough.size()]);
    }
  });
}

MPROC_TEST_EACH_METHOD(a_pool_under_a_killer_keeps_working) {
  mproc::pool workers(mproc::pool_options{.processes = 4, .method = method});
  BOOST_TEST(workers.apply(square, 2) == 4);
  std::atomic<bool> stop{false};
  std::thread killer = start_killer(workers, stop, 10ms);
  std::size_t done = 0;
  std::size_t lost = 0;
  std::size_t other = 0;
  auto results = workers.imap_unordered(slow_square, range(2000));
  for (auto it = results.begin(); it != results.end(); ++it) {
    try {
      *it;
      ++done;
    } catch (const mproc::worker_lost_error&) {
      ++lost;
    } catch (...) {
      ++other;
    }
  }
  stop = true;
  killer.join();
  BOOST_TEST(done + lost == 2000u);
  BOOST_TEST(other == 0u);
  BOOST_TEST(done > 0u);
  BOOST_TEST(workers.apply(square, 5) == 25);  // not given up
}

// A lost chunk of a plain-value map was retried only after every other chunk
// was done, where the next kill found it: it now goes back at once.
MPROC_TEST_EACH_METHOD(retry_lost_tasks_survives_kills_during_a_plain_map) {
  mproc::pool workers(mproc::pool_options{.processes = 4, .method = method, .retry_lost_tasks = true});
  BOOST_TEST(workers.apply(square, 2) == 4);
  for (int run = 0; run < 3; ++run) {
    std::atomic<bool> stop{false};
    std::thread killer = start_killer(workers, stop, 50ms);
    std::vector<int> squares;
    try {
      // Plain values: the team path. Chunks of two (2 to 30 ms, by the
      // platform's sleep) end long before the next kill, so a retried chunk
      // is not lost twice: retry_lost_tasks runs a task once more, not for ever.
      squares = workers.map(slow_square, range(2000), 2);
    } catch (const std::exception& e) {
      BOOST_ERROR("run " << run << ": " << e.what());
    }
    stop = true;
    killer.join();
    BOOST_TEST_REQUIRE(squares.size() == 2000u);
    BOOST_TEST(squares[1999] == 1999 * 1999);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(killed_while_creating)

BOOST_AUTO_TEST_CASE(nothing_is_left_in_dev_shm_spawn, *mproc::test::posix_only("Windows frees a section with its last handle")) {
  kill_while_making_objects(mproc::start_method::spawn);
}
BOOST_AUTO_TEST_CASE(nothing_is_left_in_dev_shm_fork, *mproc::test::posix_only("fork")) {
  kill_while_making_objects(mproc::start_method::fork);
}
BOOST_AUTO_TEST_CASE(nothing_is_left_in_dev_shm_forkserver, *mproc::test::posix_only("forkserver")) {
  kill_while_making_objects(mproc::start_method::forkserver);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(many_processes)

BOOST_AUTO_TEST_CASE(three_hundred_processes_share_one_queue_spawn, *mproc::test::posix_only("Windows counts no users")) {
  three_hundred_share_one_queue(mproc::start_method::spawn);
}
BOOST_AUTO_TEST_CASE(three_hundred_processes_share_one_queue_fork, *mproc::test::posix_only("fork")) {
  three_hundred_share_one_queue(mproc::start_method::fork);
}
BOOST_AUTO_TEST_CASE(three_hundred_processes_share_one_queue_forkserver, *mproc::test::posix_only("forkserver")) {
  three_hundred_share_one_queue(mproc::start_method::forkserver);
}

// pool(300) under spawn threw in its constructor (its result queue ran out of
// user slots), and under fork committed 1.2 GiB of /dev/shm.
// Under fork every worker also held a slot in every other worker's task queue:
// pool(300) took 29 s to start and 15 s to end (0.3 s and 0.7 s now).
void three_hundred_workers(mproc::start_method method) {
  mproc::pool workers(mproc::pool_options{.processes = 300, .method = method});
  const auto squares = workers.map(square, range(600), 1);
  BOOST_TEST(squares[599] == 599 * 599);
  BOOST_TEST(workers.worker_pids().size() == 300u);
}
BOOST_AUTO_TEST_CASE(a_pool_of_three_hundred_works_forkserver, *mproc::test::posix_only("forkserver")) {
  three_hundred_workers(mproc::start_method::forkserver);
}
BOOST_AUTO_TEST_CASE(a_pool_of_three_hundred_works_fork, *mproc::test::posix_only("fork")) {
  three_hundred_workers(mproc::start_method::fork);
}

// Each worker's task ring committed its 4 MiB up front: pool(64) held 260 MiB
// of /dev/shm doing nothing. Rings are now committed as they are first filled.
BOOST_AUTO_TEST_CASE(an_idle_pool_commits_little_memory, *mproc::test::posix_only("/dev/shm")) {
  const std::string ours = "mproc_" + std::to_string(mproc::test::this_pid()) + "_";
  mproc::pool workers(mproc::pool_options{.processes = 64, .method = mproc::start_method::fork});
  BOOST_TEST(workers.map(square, range(64), 1)[63] == 63 * 63);
  const double mib = static_cast<double>(mproc::test::shared_memory_committed_bytes(ours)) / (1 << 20);
  BOOST_TEST_MESSAGE("pool(64) after a small map: " << mib << " MiB of /dev/shm");
  BOOST_TEST(mib < 64.0);
}

// 1,000 children in batches of 100, all alive at once in each batch: every exit
// code read, and no descriptor or zombie left behind.
MPROC_TEST_EACH_METHOD(a_thousand_processes_leave_nothing_behind) {
  mproc::process warm_up(with(method), exit_with, 0);
  warm_up.start();
  warm_up.join();
  const int descriptors = mproc::test::open_descriptor_count();
  // Under Wine: about 17 s (200 took 3.4 s). A sanitizer's program takes 0.2 s
  // to start on a host with costly page faults: fewer spawned there.
  const int batches = mproc::test::under_sanitizer && method == mproc::start_method::spawn ? 2 : 10;
  for (int batch = 0; batch < batches; ++batch) {
    std::vector<mproc::process> children;
    children.reserve(100);
    for (int i = 0; i < 100; ++i) children.emplace_back(with(method), exit_with, i % 7);
    for (auto& child : children) child.start();
    for (int i = 0; i < 100; ++i) {
      children[static_cast<std::size_t>(i)].join();
      BOOST_TEST_REQUIRE(children[static_cast<std::size_t>(i)].exitcode().value() == i % 7);
    }
  }
  BOOST_TEST(mproc::test::zombie_children().empty());
  BOOST_TEST(mproc::test::open_descriptor_count() == descriptors);
}

BOOST_AUTO_TEST_SUITE_END()
