// Python parity where users touch first: everyday argument and result types,
// imap after a failed item, queue close() per process, program names.
#include "support/scratch.hpp"

#include <mproc/pool.hpp>
#include <mproc/process.hpp>
#include <mproc/queue.hpp>
#include <mproc/shared.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;
using mproc::test::with;

namespace {

// ---- string literals ----

void greet(std::string who, mproc::queue<std::string> out) { out.put("hello " + who); }
void greet_view(std::string_view who, mproc::queue<std::string> out) { out.put("hi " + std::string(who)); }
std::size_t length_of(const std::string& text) { return text.size(); }
std::string shout(std::string text) { return text + "!"; }

std::string the_prefix;
void set_prefix(std::string prefix) { the_prefix = std::move(prefix); }
std::string prefixed(int x) { return the_prefix + std::to_string(x); }

// ---- results of every serialisable type ----

struct person {
  std::string name;
  int age = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(name, age);
  }
  bool operator==(const person&) const = default;
};

std::string word_of(int x) { return "w" + std::to_string(x); }
std::map<std::string, int> count_to(int n) {
  std::map<std::string, int> counts;
  for (int i = 0; i < n; ++i) counts["k" + std::to_string(i)] = i;
  return counts;
}
std::optional<int> half_if_even(int x) { return x % 2 == 0 ? std::optional<int>(x / 2) : std::nullopt; }
std::vector<std::string> words_up_to(int n) {
  std::vector<std::string> words;
  for (int i = 0; i < n; ++i) words.push_back(std::to_string(i));
  return words;
}
person person_aged(int age) { return {"p" + std::to_string(age), age}; }

// ---- plain structs, no serialize() ----

struct point {
  double x;
  double y;
  int tag;
};
point moved(point p) { return {p.x + 1, p.y * 2, p.tag}; }
double norm1(point p) { return p.x + p.y; }

void send_point(point p, mproc::queue<point> out) { out.put(moved(p)); }
void store_point(point p, mproc::value<point> out) { out.set(p); }

// ---- imap after a failed item ----

int times_ten_but_two(int x) {
  if (x == 2) throw std::runtime_error("two");
  return x * 10;
}

// ---- queue close() per process ----

void produce_then_close(mproc::queue<int> q, int first, int count) {
  for (int i = 0; i < count; ++i) q.put(first + i);
  q.close();  // this process puts no more: the queue goes on for the others
}

void put_after_shutdown(mproc::queue<int> q, mproc::value<int> outcome) {
  try {
    q.put(1);
    outcome.set(1);
  } catch (const mproc::closed_error&) {
    outcome.set(2);
  }
}

// ---- exceptions keep their type ----

class inventory_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class unregistered_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

int fail_with(int kind) {
  switch (kind) {
    case 0: throw std::invalid_argument("bad argument");
    case 1: throw std::out_of_range("too far");
    case 2: throw std::runtime_error("it broke");
    case 3: throw mproc::timeout_error("too slow");
    case 4: throw inventory_error("no more widgets");
    case 5: throw unregistered_error("who am I");
    case 6: throw 42;
    default: return kind;
  }
}

// ---- program names ----

void report_names(mproc::queue<std::string> out) {
  out.put(mproc::test::read_file("/proc/self/comm"));
  const std::string cmdline = mproc::test::read_file("/proc/self/cmdline");
  out.put(cmdline.substr(0, cmdline.find('\0')));
}

}  // namespace

MPROC_REGISTER_EXCEPTION(inventory_error);

BOOST_AUTO_TEST_SUITE(string_literals)

MPROC_TEST_EACH_METHOD(a_string_literal_is_a_process_argument) {
  mproc::queue<std::string> out;
  mproc::process p(with(method), greet, "world", out);
  mproc::process q(with(method), greet_view, "there", out);
  p.start();
  q.start();
  std::set<std::string> got{out.get(10s), out.get(10s)};
  p.join();
  q.join();
  BOOST_TEST(p.exitcode().value() == 0);
  BOOST_TEST((got == std::set<std::string>{"hello world", "hi there"}));
}

MPROC_TEST_EACH_METHOD(a_string_literal_is_a_pool_argument_and_item) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
  BOOST_TEST(workers.apply(length_of, "four") == 4u);
  BOOST_TEST(workers.apply_async(shout, "hey").get() == "hey!");
  const std::vector<const char*> words{"a", "bb", "ccc"};
  BOOST_TEST((workers.map(length_of, words) == std::vector<std::size_t>{1, 2, 3}));
  std::vector<std::string> shouted;
  for (const auto& s : workers.imap(shout, words)) shouted.push_back(s);
  BOOST_TEST((shouted == std::vector<std::string>{"a!", "bb!", "ccc!"}));
}

MPROC_TEST_EACH_METHOD(a_string_literal_is_an_initializer_argument) {
  mproc::pool workers(mproc::pool_options{
      .processes = 1, .initializer = mproc::initializer(set_prefix, "item-"), .method = method});
  BOOST_TEST(workers.apply(prefixed, 7) == "item-7");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pool_results)

MPROC_TEST_EACH_METHOD(apply_returns_every_serialisable_type) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
  BOOST_TEST(workers.apply(word_of, 3) == "w3");
  BOOST_TEST((workers.apply(count_to, 3) == std::map<std::string, int>{{"k0", 0}, {"k1", 1}, {"k2", 2}}));
  BOOST_TEST((workers.apply(half_if_even, 4) == std::optional<int>(2)));
  BOOST_TEST(!workers.apply(half_if_even, 3).has_value());
  BOOST_TEST((workers.apply(words_up_to, 3) == std::vector<std::string>{"0", "1", "2"}));
  BOOST_TEST((workers.apply_async(person_aged, 30).get(10s) == person{"p30", 30}));
}

MPROC_TEST_EACH_METHOD(map_returns_every_serialisable_type) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
  const std::vector<int> inputs{0, 1, 2, 3};
  BOOST_TEST((workers.map(word_of, inputs) == std::vector<std::string>{"w0", "w1", "w2", "w3"}));
  const auto maps = workers.map(count_to, inputs);
  BOOST_TEST_REQUIRE(maps.size() == 4u);
  BOOST_TEST(maps[3].size() == 3u);
  const auto halves = workers.map(half_if_even, inputs);
  BOOST_TEST((halves == std::vector<std::optional<int>>{0, std::nullopt, 1, std::nullopt}));
  BOOST_TEST(workers.map(words_up_to, inputs)[2].size() == 2u);
  BOOST_TEST((workers.map(person_aged, inputs)[1] == person{"p1", 1}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(plain_structs)

MPROC_TEST_EACH_METHOD(a_plain_struct_travels_without_serialize) {
  mproc::queue<point> out;
  mproc::value<point> stored;
  mproc::process p(with(method), send_point, point{1.5, 2.0, 7}, out);
  mproc::process q(with(method), store_point, point{-1, -2, 3}, stored);
  p.start();
  q.start();
  const point got = out.get(10s);
  p.join();
  q.join();
  BOOST_TEST(got.x == 2.5);
  BOOST_TEST(got.y == 4.0);
  BOOST_TEST(got.tag == 7);
  BOOST_TEST(stored.get().tag == 3);
  BOOST_TEST(stored.get().y == -2.0);
}

MPROC_TEST_EACH_METHOD(a_pool_maps_plain_structs) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
  std::vector<point> points;
  for (int i = 0; i < 100; ++i) points.push_back({double(i), double(i), i});
  const auto results = workers.map(moved, points);  // plain in, plain out: the team path
  BOOST_TEST_REQUIRE(results.size() == 100u);
  BOOST_TEST(results[42].x == 43.0);
  BOOST_TEST(results[42].y == 84.0);
  const auto sums = workers.map(norm1, std::vector<point>(points.begin(), points.begin() + 3));
  BOOST_TEST((sums == std::vector<double>{0, 2, 4}));
  std::vector<int> tags;
  for (const point& p : workers.imap(moved, points)) tags.push_back(p.tag);  // through messages
  BOOST_TEST(tags.size() == 100u);
  BOOST_TEST(tags[99] == 99);
  BOOST_TEST(workers.apply(moved, point{0, 1, 5}).y == 2.0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(imap_errors)

// Python: 0 10 <error> 30 40. The failed item throws when read; the loop goes on.
MPROC_TEST_EACH_METHOD(imap_goes_on_after_a_failed_item) {
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
  const std::vector<int> inputs{0, 1, 2, 3, 4};
  std::string seen;
  auto results = workers.imap(times_ten_but_two, inputs);
  for (auto it = results.begin(); it != results.end(); ++it) {
    try {
      seen += std::to_string(*it) + " ";
    } catch (const std::runtime_error&) {  // the task's own type
      seen += "<error> ";
    }
  }
  BOOST_TEST(seen == "0 10 <error> 30 40 ");
}

BOOST_AUTO_TEST_CASE(imap_unordered_goes_on_after_a_failed_item) {
  mproc::pool workers(2);
  const std::vector<int> inputs{0, 1, 2, 3, 4};
  std::multiset<int> values;
  int errors = 0;
  auto results = workers.imap_unordered(times_ten_but_two, inputs);
  for (auto it = results.begin(); it != results.end(); ++it) {
    try {
      values.insert(*it);
    } catch (const mproc::remote_error&) {
      ++errors;
    }
  }
  BOOST_TEST(errors == 1);
  BOOST_TEST((values == std::multiset<int>{0, 10, 30, 40}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(queue_close)

// The classic pattern: each producer closes when done; no producer is refused.
MPROC_TEST_EACH_METHOD(close_is_per_process_as_in_python) {
  mproc::queue<int> q;
  std::vector<mproc::process> producers;
  for (int p = 0; p < 3; ++p) producers.emplace_back(with(method), produce_then_close, q, p * 1000, 200);
  for (auto& p : producers) p.start();
  std::multiset<int> got;
  for (int i = 0; i < 600; ++i) got.insert(q.get(20s));
  for (auto& p : producers) {
    p.join();
    BOOST_TEST(p.exitcode().value() == 0);
  }
  BOOST_TEST(got.size() == 600u);
  BOOST_TEST(got.count(2199) == 1u);
  BOOST_TEST(!q.closed());
}

BOOST_AUTO_TEST_CASE(close_stops_this_process_only) {
  mproc::queue<int> q;
  mproc::queue<int> copy = q;  // copies in one process are one queue object, as in Python
  q.put(1);
  q.close();
  BOOST_TEST(q.closed());
  BOOST_TEST(copy.closed());
  BOOST_TEST(!q.is_shutdown());
  BOOST_CHECK_THROW(q.put(2), mproc::closed_error);
  BOOST_CHECK_THROW(copy.get(), mproc::closed_error);
}

MPROC_TEST_EACH_METHOD(shutdown_ends_the_queue_for_every_process) {
  mproc::queue<int> q;
  mproc::value<int> outcome;
  q.shutdown();
  BOOST_TEST(q.is_shutdown());
  mproc::process p(with(method), put_after_shutdown, q, outcome);
  p.start();
  p.join();
  BOOST_TEST(outcome.get() == 2);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(program_names)

BOOST_AUTO_TEST_CASE(spawned_children_show_the_program_name,
                     *mproc::test::posix_only("/proc/self/comm is Linux's; a Windows child runs the .exe itself")) {
  for (auto method : {mproc::start_method::spawn, mproc::start_method::forkserver}) {
    mproc::queue<std::string> out;
    mproc::process p(with(method), report_names, out);
    p.start();
    const std::string comm = out.get(10s);
    const std::string argv0 = out.get(10s);
    p.join();
    BOOST_TEST(comm == "parity_test\n");
    BOOST_TEST(argv0.ends_with("/parity_test"));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(typed_exceptions)

template <class E>
void check_caught_as(mproc::pool& workers, int kind, const std::string& type, const std::string& message) {
  try {
    workers.apply(fail_with, kind);
    BOOST_FAIL("no error");
  } catch (const E& e) {
    BOOST_TEST(std::string(e.what()) == message);
    const auto* remote = dynamic_cast<const mproc::remote_error*>(&e);
    BOOST_TEST_REQUIRE(remote != nullptr);
    BOOST_TEST(remote->type() == type);
    BOOST_TEST(remote->message() == message);
    BOOST_TEST(remote->process_name().starts_with("PoolWorker-"));
    const auto pids = workers.worker_pids();
    BOOST_TEST((std::find(pids.begin(), pids.end(), remote->pid()) != pids.end()));
  }
}

MPROC_TEST_EACH_METHOD(a_task_exception_keeps_its_type) {
  mproc::pool workers(mproc::pool_options{.processes = 1, .method = method});
  check_caught_as<std::invalid_argument>(workers, 0, "std::invalid_argument", "bad argument");
  check_caught_as<std::out_of_range>(workers, 1, "std::out_of_range", "too far");
  check_caught_as<std::logic_error>(workers, 1, "std::out_of_range", "too far");  // through its bases too
  check_caught_as<std::runtime_error>(workers, 2, "std::runtime_error", "it broke");
  check_caught_as<mproc::timeout_error>(workers, 3, "mproc::timeout_error", "too slow");
  check_caught_as<inventory_error>(workers, 4, "(anonymous namespace)::inventory_error", "no more widgets");
  // one std::exception base: a plain catch-all still matches
  BOOST_CHECK_THROW(workers.apply(fail_with, 0), std::exception);
  BOOST_CHECK_THROW(workers.apply(fail_with, 0), mproc::remote_error);
}

BOOST_AUTO_TEST_CASE(an_unknown_exception_type_stays_a_remote_error) {
  mproc::pool workers(1);
  try {
    workers.apply(fail_with, 5);
    BOOST_FAIL("no error");
  } catch (const unregistered_error&) {
    BOOST_FAIL("an unregistered type cannot be rebuilt");
  } catch (const mproc::error& e) {
    const auto* remote = dynamic_cast<const mproc::remote_error*>(&e);
    BOOST_TEST_REQUIRE(remote != nullptr);
    BOOST_TEST(remote->type() == "(anonymous namespace)::unregistered_error");
    BOOST_TEST(std::string(e.what()) == "(anonymous namespace)::unregistered_error: who am I");
  }
  try {
    workers.apply(fail_with, 6);  // not a std::exception at all
    BOOST_FAIL("no error");
  } catch (const mproc::remote_error& e) {
    BOOST_TEST(e.type() == "unknown exception");
  }
  BOOST_TEST(workers.apply(fail_with, 9) == 9);  // and the pool goes on
}

BOOST_AUTO_TEST_CASE(a_plain_map_keeps_the_type_too) {
  mproc::pool workers(2);
  std::vector<int> kinds(100, 9);
  kinds[57] = 1;
  BOOST_CHECK_THROW(workers.map(fail_with, kinds), std::out_of_range);  // the team path
  BOOST_CHECK_THROW(workers.map(fail_with, kinds, 1), std::out_of_range);
}

BOOST_AUTO_TEST_SUITE_END()
