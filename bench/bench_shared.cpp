// Shared container figures beside Python's Manager() proxies, in one run:
// ints appended to one list by 2 processes, get + set pairs of small strings on
// a dict, update_item of one key by 4 processes, a snapshot of a 100,000-int
// list, and a list grown from nothing to 10 M ints against one reserved for
// them upfront.
//
//   bench_shared [--json] [--rounds N]
#include <mproc/mproc.hpp>

#include "report.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point begin) {
  return std::chrono::duration<double>(clock_type::now() - begin).count();
}

template <class F>
double best_of(int rounds, F once) {
  std::vector<double> times;
  for (int i = 0; i < rounds; ++i) times.push_back(once());
  return *std::min_element(times.begin(), times.end());
}

template <class F>
double timed(F work) {
  const auto begin = clock_type::now();
  work();
  return seconds_since(begin);
}

void append_many(mproc::shared_list<int> list, int first, int count) {
  for (int i = first; i < first + count; ++i) list.append(i);
}

void increment(mproc::shared_dict<std::string, long> counts, int times) {
  for (int i = 0; i < times; ++i) counts.update_item("hits", [](long& v) { v += 1; });
}

// Starts one child per argument list, all at once, and waits for them: seconds.
template <class F, class... Args>
double run_children(int n, F target, Args... args) {
  std::vector<mproc::process> children;
  for (int i = 0; i < n; ++i) children.emplace_back(target, args...);
  return timed([&] {
    for (auto& c : children) c.start();
    for (auto& c : children) c.join();
  });
}

}  // namespace

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  const auto [json, rounds] = bench::parse_options(argc, argv, 5);
  bench::report report;

  constexpr int each = 200'000;
  const double append_s = best_of(rounds, [&] {
    mproc::shared_list<int> list;
    std::vector<mproc::process> writers;
    writers.emplace_back(append_many, list, 0, each);
    writers.emplace_back(append_many, list, each, each);
    return timed([&] {
      for (auto& w : writers) w.start();
      for (auto& w : writers) w.join();
    });
  });
  report.add("list_append_per_s", 2 * each / append_s, "1/s", "ints appended to one shared_list by 2 processes");

  std::vector<std::string> keys;
  for (int i = 0; i < 200'000; ++i) keys.push_back("k" + std::to_string(i % 100));
  mproc::shared_dict<std::string, std::string> dict;
  const double get_set_s = best_of(rounds, [&] {
    return timed([&] {
      for (const auto& k : keys) {
        dict.set(k, "value");
        if (!dict.get(k)) std::cout << "";
      }
    });
  });
  report.add("dict_get_set_per_s", keys.size() / get_set_s, "1/s", "set + get pairs of small strings");

  constexpr int times = 50'000;
  const double update_s = best_of(rounds, [&] {
    mproc::shared_dict<std::string, long> counts;
    const double s = run_children(4, increment, counts, times);
    if (counts.at("hits") != 4L * times) std::cout << "update_item lost increments!\n";
    return s;
  });
  report.add("update_item_per_s", 4 * times / update_s, "1/s", "update_item(+1) of one key by 4 processes");

  mproc::shared_list<int> big;
  for (int i = 0; i < 100'000; ++i) big.append(i);
  const double snapshot_s = best_of(rounds * 4, [&] {
    return timed([&] {
      if (big.snapshot().size() != 100'000u) std::cout << "";
    });
  });
  report.add("snapshot_100k_ms", snapshot_s * 1e3, "ms", "a consistent copy of a 100,000-int shared_list");

  constexpr int ten_million = 10'000'000;
  const int grow_rounds = std::max(1, rounds / 2);
  const double grow_s = best_of(grow_rounds, [&] {
    mproc::shared_list<int> list;
    return timed([&] {
      for (int i = 0; i < ten_million; ++i) list.append(i);
    });
  });
  const double prealloc_s = best_of(grow_rounds, [&] {
    mproc::shared_list<int> list;
    list.reserve(ten_million);  // not timed: the upfront list is made before
    return timed([&] {
      for (int i = 0; i < ten_million; ++i) list.append(i);
    });
  });
  report.add("grow_10M_s", grow_s, "s", "10 M ints appended to a list grown from nothing");
  report.add("prealloc_10M_s", prealloc_s, "s", "the same appends to a list reserved for 10 M upfront");

  const std::string python = bench::capture("command -v python3 >/dev/null && python3 " MPROC_BENCH_PYTHON_DIR
                                            "/bench_shared.py " + std::to_string(std::max(1, rounds / 2)));
  if (python.empty() && !json) std::cout << "python3 not found: Python's figures are left out\n";
  for (const auto& [name, value] : bench::parse_flat_json(python)) {
    report.add(name, value, name.ends_with("_per_s") ? "1/s" : "ms", "multiprocessing.Manager()");
  }
  report.add_ratio("list_append_vs_python", "list_append_per_s", "python_list_append_per_s", "goal >= 50");
  report.add_ratio("dict_get_set_vs_python", "dict_get_set_per_s", "python_dict_get_set_per_s", "goal >= 50");
  report.add_ratio("update_item_vs_python", "update_item_per_s", "python_update_item_per_s", "goal >= 50");
  report.add_ratio("snapshot_100k_vs_python", "python_snapshot_100k_ms", "snapshot_100k_ms", "goal >= 50");
  report.add_ratio("grow_10M_vs_prealloc", "grow_10M_s", "prealloc_10M_s", "goal <= 2");
  report.print(json);
}
