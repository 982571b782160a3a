// Shared lists, dicts, sets and namespaces between processes: the surface, growth,
// atomic updates, and consistency when a writer is killed in the middle.
#include "support/scratch.hpp"

#include <mproc/pool.hpp>
#include <mproc/process.hpp>
#include <mproc/shared_containers.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <thread>
#include <vector>

using mproc::test::with;

namespace {

void append_numbers(mproc::shared_list<int> list, int first, int count) {
  for (int i = first; i < first + count; ++i) list.append(i);
}

void record_squares(mproc::shared_dict<std::string, int> dict, int first, int count) {
  for (int i = first; i < first + count; ++i) dict.set("n" + std::to_string(i), i * i);
}

void increment(mproc::shared_dict<std::string, long> counts, int times) {
  for (int i = 0; i < times; ++i) counts.update_item("hits", [](long& v) { v += 1; });
}

struct point {
  double x;
  double y;
};

}  // namespace

MPROC_TEST_EACH_METHOD(four_processes_append_to_one_list) {
  mproc::shared_list<int> list;
  std::vector<mproc::process> writers;
  for (int w = 0; w < 4; ++w) writers.emplace_back(with(method), append_numbers, list, w * 1000, 1000);
  for (auto& p : writers) p.start();
  for (auto& p : writers) p.join();
  const auto all = list.snapshot();
  BOOST_TEST(all.size() == 4000u);
  BOOST_TEST(std::set<int>(all.begin(), all.end()).size() == 4000u);  // each once
  BOOST_TEST(list.at(0) >= 0);
  BOOST_CHECK_THROW(list.at(4000), std::out_of_range);
}

// 8 writers grow one list from nothing past many commits and compactions.
MPROC_TEST_EACH_METHOD(eight_processes_grow_one_list_and_lose_nothing) {
  mproc::shared_list<int> list;
  constexpr int each = 25000;
  std::vector<mproc::process> writers;
  for (int w = 0; w < 8; ++w) writers.emplace_back(with(method), append_numbers, list, w * each, each);
  for (auto& p : writers) p.start();
  for (auto& p : writers) {
    p.join();
    BOOST_TEST(p.exitcode().value() == 0);
  }
  auto all = list.snapshot();
  BOOST_TEST(all.size() == 8u * each);
  std::sort(all.begin(), all.end());
  std::vector<int> expected(8 * each);
  std::iota(expected.begin(), expected.end(), 0);
  BOOST_TEST((all == expected));  // nothing lost, nothing twice
}

MPROC_TEST_EACH_METHOD(four_processes_times_ten_thousand_increments_make_forty_thousand) {
  mproc::shared_dict<std::string, long> counts;
  std::vector<mproc::process> workers;
  for (int w = 0; w < 4; ++w) workers.emplace_back(with(method), increment, counts, 10000);
  for (auto& p : workers) p.start();
  for (auto& p : workers) p.join();
  BOOST_TEST(counts.at("hits") == 40000);
}

BOOST_AUTO_TEST_CASE(a_list_grows_past_a_mebibyte_and_gives_memory_back_when_cleared) {
  mproc::shared_list<double> list;
  const std::size_t at_start = list.committed_bytes();
  for (int i = 0; i < 300000; ++i) list.append(i * 0.5);  // 2.4 MB of doubles, 4.8 MB with records
  BOOST_TEST(list.size() == 300000u);
  BOOST_TEST(list.at(299999) == 299999 * 0.5);
  const std::size_t grown = list.committed_bytes();
  BOOST_TEST(grown > (std::size_t{4} << 20));
  list.clear();
  BOOST_TEST(list.empty());
  // Windows cannot decommit a mapped section's pages: they stay, for reuse.
  if (mproc::test::posix_system) BOOST_TEST(list.committed_bytes() < grown / 4);
  for (int i = 0; i < 1000; ++i) list.append(i);
  BOOST_TEST(list.at(999) == 999.0);
  BOOST_TEST(at_start < (std::size_t{1} << 20));
}

BOOST_AUTO_TEST_CASE(a_capped_list_says_it_is_full_and_keeps_what_it_had) {
  mproc::shared_list<std::string> list(16 * 1024);
  std::size_t added = 0;
  try {
    for (;; ++added) list.append(std::string(1000, 'x'));
  } catch (const mproc::error& e) {
    BOOST_TEST(std::string(e.what()).find("is full") != std::string::npos, e.what());
  }
  BOOST_TEST(added > 10u);
  BOOST_TEST(list.size() == added);  // the failed append changed nothing
  BOOST_TEST(list.at(added - 1) == std::string(1000, 'x'));
  list.clear();
  list.append("room again");
  BOOST_TEST(list.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_list_reads_and_writes_like_a_vector) {
  mproc::shared_list<int> l;
  l.extend(std::vector<int>{1, 2, 3});
  l.push_back(4);
  l[0] = 10;  // l[i] = x
  const int second = l[1];
  BOOST_TEST(second == 2);
  l.insert(1, 15);
  l.insert(100, 99);  // past the end: at the end, as Python
  BOOST_TEST((l.snapshot() == std::vector<int>{10, 15, 2, 3, 4, 99}));
  BOOST_TEST(l.pop() == 99);
  BOOST_TEST(l.pop(0) == 10);
  l.erase(1);
  BOOST_TEST((l.snapshot() == std::vector<int>{15, 3, 4}));
  l.append(3);
  BOOST_TEST(l.index(3).value() == 1u);
  BOOST_TEST(!l.index(42).has_value());
  BOOST_TEST(l.count(3) == 2u);
  l.update(0, [](int& v) { v *= 2; });
  BOOST_TEST(l.at(0) == 30);
  const int total = l.with_lock([](mproc::shared_list<int>& same) {
    int sum = 0;
    for (int v : same.snapshot()) sum += v;
    same.append(sum);
    return sum;
  });
  BOOST_TEST(total == 40);
  BOOST_TEST(l.size() == 5u);
  BOOST_CHECK_THROW(l.at(5), std::out_of_range);
  BOOST_CHECK_THROW(l[5] = 1, std::out_of_range);
  mproc::shared_list<int> empty;
  BOOST_CHECK_THROW(empty.pop(), std::out_of_range);
}

MPROC_TEST_EACH_METHOD(two_processes_fill_one_dict) {
  mproc::shared_dict<std::string, int> dict;
  mproc::process first(with(method), record_squares, dict, 0, 50);
  mproc::process second(with(method), record_squares, dict, 50, 50);
  first.start();
  second.start();
  first.join();
  second.join();
  BOOST_TEST(dict.size() == 100u);
  BOOST_TEST(dict.get("n7").value() == 49);
  BOOST_TEST(!dict.get("n100").has_value());
  BOOST_TEST(dict.contains("n99"));
  BOOST_TEST(dict.erase("n99"));
  BOOST_TEST(!dict.erase("n99"));
  dict.set("n0", -1);  // replaces
  const auto all = dict.snapshot();
  BOOST_TEST(all.size() == 99u);
  BOOST_TEST(all.at("n0") == -1);
}

BOOST_AUTO_TEST_CASE(a_dict_reads_and_writes_like_a_map) {
  mproc::shared_dict<std::string, int> d;
  d["a"] = 1;
  d["b"] = 2;
  const int a = d["a"];
  BOOST_TEST(a == 1);
  BOOST_CHECK_THROW(static_cast<void>(static_cast<int>(d["zz"])), std::out_of_range);
  BOOST_TEST(d.get("zz", 7) == 7);
  BOOST_TEST(d.setdefault("c", 3) == 3);
  BOOST_TEST(d.setdefault("c", 4) == 3);
  d.update(std::map<std::string, int>{{"a", 10}, {"d", 4}});
  BOOST_TEST(d.pop("d").value() == 4);
  BOOST_TEST(!d.pop("d").has_value());
  auto keys = d.keys();
  std::sort(keys.begin(), keys.end());
  BOOST_TEST((keys == std::vector<std::string>{"a", "b", "c"}));
  auto values = d.values();
  std::sort(values.begin(), values.end());
  BOOST_TEST((values == std::vector<int>{2, 3, 10}));
  BOOST_TEST(d.items().size() == 3u);
  d.update_item("e", [](int& v) { v += 5; });  // absent: starts from int{}
  BOOST_TEST(d.at("e") == 5);
  // Many keys added and removed: the table grows, and erased cells are reused.
  for (int i = 0; i < 20000; ++i) d.set("k" + std::to_string(i), i);
  for (int i = 0; i < 20000; i += 2) d.erase("k" + std::to_string(i));
  BOOST_TEST(d.size() == 4u + 10000u);
  BOOST_TEST(d.at("k19999") == 19999);
  BOOST_TEST(!d.contains("k0"));
  d.clear();
  BOOST_TEST(d.empty());
}

BOOST_AUTO_TEST_CASE(items_of_any_serialisable_type) {
  mproc::shared_dict<std::string, std::vector<std::map<std::string, int>>> nested;
  nested["x"] = std::vector<std::map<std::string, int>>{{{"one", 1}}, {{"two", 2}}};
  BOOST_TEST(nested.at("x").at(1).at("two") == 2);
  mproc::shared_list<point> points;  // plain structs: stored as their bytes
  points.append({1.5, -2.0});
  BOOST_TEST(points.at(0).y == -2.0);
  mproc::shared_dict<int, std::string> names;
  names[3] = "three";
  BOOST_TEST(names.at(3) == "three");
}

// Items of up to 7 bytes live in the list's table, longer ones in records of
// their own: one list holding both keeps each through assignments (whose
// garbage makes compactions), inserts and pops.
BOOST_AUTO_TEST_CASE(short_and_long_items_mix_in_one_list_through_every_change) {
  using mproc::detail::byte_container;
  byte_container list(byte_container::kind::list, 0, "shared list");
  const auto item = [](int i) { return std::string(static_cast<std::size_t>(i % 13), static_cast<char>('a' + i % 26)); };
  std::vector<std::string> expected;
  for (int i = 0; i < 2000; ++i) {
    list.append(item(i));
    expected.push_back(item(i));
  }
  const std::size_t before = list.committed_bytes();
  for (int round = 1; round <= 30; ++round) {
    for (std::size_t i = static_cast<std::size_t>(round % 3); i < expected.size(); i += 3) {
      expected[i] = item(static_cast<int>(i) + round);
      list.assign(i, expected[i]);
    }
  }
  BOOST_TEST(list.committed_bytes() < 4 * before);  // compacted: the garbage did not pile up
  list.insert(7, "a long item, in a record");
  expected.insert(expected.begin() + 7, "a long item, in a record");
  list.insert(0, "");
  expected.insert(expected.begin(), "");
  list.insert(1500, "short");
  expected.insert(expected.begin() + 1500, "short");
  BOOST_TEST(list.pop(100) == expected[100]);
  expected.erase(expected.begin() + 100);
  BOOST_TEST(list.pop(std::nullopt) == expected.back());
  expected.pop_back();
  BOOST_TEST(list.at(8) == "a long item, in a record");  // moved by the insert at 0
  BOOST_TEST((list.items() == expected));
}

BOOST_AUTO_TEST_CASE(a_plain_copy_of_an_item_of_another_size_says_which) {
  using mproc::detail::byte_container;
  for (const std::string odd : {"abc", "a longer item"}) {
    for (const std::size_t each : {std::size_t{4}, std::size_t{8}}) {
      byte_container list(byte_container::kind::list, 0, "shared list");
      list.append(std::string(each, 'x'));
      list.append(odd);
      std::vector<char> out(2 * each);
      try {
        list.copy_plain_items(out.data(), each, 2);
        BOOST_FAIL("an item of another size was copied");
      } catch (const mproc::serialization_error& e) {
        BOOST_TEST(std::string(e.what()) == "item 1 of the shared list has " + std::to_string(odd.size()) +
                                                " bytes, not " + std::to_string(each));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_list_of_ints_keeps_them_in_its_table) {
  mproc::shared_list<int> ints;
  mproc::shared_list<double> doubles;  // 8 bytes: each in a record
  for (int i = 0; i < 100000; ++i) {
    ints.append(i);
    doubles.append(i);
  }
  BOOST_TEST(ints.committed_bytes() < doubles.committed_bytes() * 3 / 4);
  const auto all = ints.snapshot();
  BOOST_TEST(all.size() == 100000u);
  BOOST_TEST(std::accumulate(all.begin(), all.end(), 0LL) == 99999LL * 100000 / 2);
  BOOST_TEST(ints.at(54321) == 54321);
}

BOOST_AUTO_TEST_CASE(a_set_adds_each_item_once) {
  mproc::shared_set<std::string> seen;
  BOOST_TEST(seen.add("a"));
  BOOST_TEST(!seen.add("a"));
  BOOST_TEST(seen.add("b"));
  BOOST_TEST(seen.contains("b"));
  BOOST_TEST(seen.discard("b"));
  BOOST_TEST(!seen.discard("b"));
  BOOST_TEST((seen.snapshot() == std::set<std::string>{"a"}));
  BOOST_TEST(seen.size() == 1u);
}

namespace {
void set_in_namespace(mproc::shared_namespace ns) {
  ns.set("answer", ns.get<int>("x") * 2);
  ns.set("label", std::string("from the child"));
}
}  // namespace

MPROC_TEST_EACH_METHOD(a_namespace_holds_values_of_mixed_types) {
  mproc::shared_namespace ns;
  ns.set("x", 21);
  mproc::process child(with(method), set_in_namespace, ns);
  child.start();
  child.join();
  BOOST_TEST(ns.get<int>("answer") == 42);
  BOOST_TEST(ns.get<std::string>("label") == "from the child");
  BOOST_CHECK_THROW(ns.get<int>("nothing"), mproc::not_found_error);
  try {
    ns.get<double>("x");
    BOOST_FAIL("a value of another type was read");
  } catch (const mproc::error& e) {
    BOOST_TEST(std::string(e.what()) == "'x' in the shared namespace is of type int, not double");
  }
  BOOST_TEST(ns.size() == 3u);
}

// --- a writer killed in the middle of a change -------------------------------

namespace {

std::atomic<int> kill_at_point{0};
std::atomic<int> hits_before_kill{0};

void kill_at_probe(int point) {
  if (point == kill_at_point.load() && hits_before_kill.fetch_sub(1) == 1) mproc::test::kill_this_process();
}

// Appends 0, 1, 2, ... (and, unless `list_only`, sets dict[i % 64] = i and
// makes garbage, hence compactions) until the probe kills it at the chosen point.
void change_until_killed(mproc::shared_list<int> list, mproc::shared_dict<int, int> dict, int point, int hits,
                         bool list_only) {
  kill_at_point = point;
  hits_before_kill = hits;
  mproc::detail::set_container_probe(kill_at_probe);
  for (int i = 0; i < 400000; ++i) {
    list.append(i);
    if (list_only) continue;
    dict.set(i % 64, i);
    if (i % 1000 == 999) list.update(0, [](int& v) { v += 0; });
  }
}

// The list holds 0..n-1 exactly (each append whole or absent); its size.
std::size_t check_list(const mproc::shared_list<int>& list) {
  const auto items = list.snapshot();
  BOOST_TEST(items.size() == list.size());
  for (std::size_t i = 0; i < items.size(); ++i) BOOST_TEST_REQUIRE(items[i] == static_cast<int>(i));
  return items.size();
}

// Kills a writer at the `hits`-th time it reaches `point`; returns the list's
// size then, after checking that both containers are consistent and usable.
std::size_t size_after_kill(mproc::start_method method, int point, int hits, bool list_only) {
  mproc::shared_list<int> list;
  mproc::shared_dict<int, int> dict;
  mproc::process writer(with(method), change_until_killed, list, dict, point, hits, list_only);
  writer.start();
  writer.join();
  BOOST_TEST_REQUIRE(writer.exitcode().value() == -9, "the writer reached probe point " << point);
  const std::size_t size = check_list(list);
  for (const auto& [key, value] : dict.items()) BOOST_TEST_REQUIRE(value % 64 == key);  // what the writer set
  BOOST_TEST(dict.size() == dict.items().size());
  // Both usable, and what they held is intact.
  for (int i = 0; i < 3000; ++i) {
    list.append(static_cast<int>(size) + i);
    dict.set(1000 + i, 1000 + i + 64 * i);
  }
  BOOST_TEST(check_list(list) == size + 3000);
  BOOST_TEST(dict.at(1000 + 2999) == 1000 + 2999 + 64 * 2999);
  for (const auto& [key, value] : dict.items()) BOOST_TEST_REQUIRE(value % 64 == key % 64);
  return size;
}

}  // namespace

// Points: 1 new bytes written, not published; 2 the journal complete; 3 half
// of it applied; 4 a compacted copy made; 5 more memory committed. Under
// list_only, change n is the n-th append.
MPROC_TEST_EACH_METHOD(a_writer_killed_before_a_change_is_published_changes_nothing) {
  BOOST_TEST(size_after_kill(method, 1, 5000, true) == 4999u);
}
MPROC_TEST_EACH_METHOD(a_writer_killed_with_its_change_journalled_has_it_finished) {
  BOOST_TEST(size_after_kill(method, 2, 5001, true) == 5001u);
}
MPROC_TEST_EACH_METHOD(a_writer_killed_halfway_through_applying_has_it_finished) {
  BOOST_TEST(size_after_kill(method, 3, 4999, true) == 4999u);
}
MPROC_TEST_EACH_METHOD(a_writer_killed_in_the_middle_of_compaction_leaves_a_consistent_container) {
  size_after_kill(method, 4, 2, false);
}
MPROC_TEST_EACH_METHOD(a_writer_killed_in_the_middle_of_growth_leaves_a_consistent_container) {
  size_after_kill(method, 5, 3, false);
}

// --- nothing left behind -----------------------------------------------------

namespace {

// Appends until killed.
void keep_appending(mproc::shared_list<std::string> list) {
  for (;;) list.append("more");
}

// Grows a list and a dict, hands the list to a child that keeps growing it,
// writes the blocks' names and the child's pid, and waits to be killed.
void grow_then_wait(std::string path, mproc::start_method method) {
  mproc::shared_list<std::string> list;
  mproc::shared_dict<int, std::string> dict;
  for (int i = 0; i < 20000; ++i) {
    list.append(std::string(200, 'x'));
    dict.set(i, "value");
  }
  mproc::process child(with(method), keep_appending, list);
  child.start();
  std::string names = "pid " + std::to_string(child.pid()) + "\n";
  for (const auto& name : mproc::test::shared_memory_names()) {
    if (name.starts_with("mproc_" + std::to_string(mproc::test::this_pid()) + "_")) names += name + "\n";
  }
  mproc::test::write_file(path, names);
  std::this_thread::sleep_for(std::chrono::seconds(60));  // until killed
}

}  // namespace

// The whole tree SIGKILLed: the grower, then the child still growing the list.
MPROC_TEST_EACH_METHOD(containers_of_a_killed_tree_leave_nothing_in_dev_shm) {
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("names");
  mproc::process grower(with(method), grow_then_wait, path, method);
  grower.start();
  BOOST_REQUIRE(mproc::test::eventually([&] { return !mproc::test::read_file(path).empty(); }, 60));
  auto names = mproc::test::lines_of(mproc::test::read_file(path));
  const int child = std::stoi(names.front().substr(4));
  names.erase(names.begin());
  if (mproc::test::posix_system) BOOST_TEST(names.size() == 2u);
  grower.kill();
  grower.join();
  mproc::test::kill_process(child);
  BOOST_TEST(mproc::test::eventually([&] {
    const auto now = mproc::test::shared_memory_names();
    return std::none_of(names.begin(), names.end(), [&](const std::string& name) { return now.count(name) > 0; });
  }));
  BOOST_TEST(mproc::test::eventually([&] { return !mproc::test::process_running(child); }));
}

// --- as pool task arguments ----------------------------------------------------

namespace {
int count_word(mproc::shared_dict<std::string, int> counts, std::string word) {
  counts.update_item(word, [](int& v) { v += 1; });
  return 1;
}
}  // namespace

MPROC_TEST_EACH_METHOD(pool_tasks_share_one_dict) {
  mproc::shared_dict<std::string, int> counts;
  mproc::pool workers(mproc::pool_options{.processes = 2, .method = method});
  std::vector<std::tuple<mproc::shared_dict<std::string, int>, std::string>> calls;
  for (int i = 0; i < 300; ++i) calls.emplace_back(counts, i % 3 == 0 ? "fizz" : "other");
  const auto done = workers.starmap(count_word, calls);
  BOOST_TEST(done.size() == 300u);
  BOOST_TEST(counts.at("fizz") == 100);
  BOOST_TEST(counts.at("other") == 200);
}
