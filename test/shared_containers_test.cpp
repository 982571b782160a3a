// Shared lists and dicts between processes.
#include "support/scratch.hpp"

#include <mproc/process.hpp>
#include <mproc/shared_containers.hpp>

#include <boost/test/unit_test.hpp>

#include <set>
#include <stdexcept>

namespace {

void append_numbers(mproc::shared_list<int> list, int first, int count) {
  for (int i = first; i < first + count; ++i) list.append(i);
}

void record_squares(mproc::shared_dict<std::string, int> dict, int first, int count) {
  for (int i = first; i < first + count; ++i) dict.set("n" + std::to_string(i), i * i);
}

}  // namespace

MPROC_TEST_EACH_METHOD(four_processes_append_to_one_list) {
  mproc::shared_list<int> list;
  std::vector<mproc::process> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back(mproc::process_options{.method = method}, append_numbers, list, w * 1000, 1000);
  }
  for (auto& p : writers) p.start();
  for (auto& p : writers) p.join();
  const auto all = list.snapshot();
  BOOST_TEST(all.size() == 4000u);
  BOOST_TEST(std::set<int>(all.begin(), all.end()).size() == 4000u);  // each once
  BOOST_TEST(list[0] >= 0);
  BOOST_CHECK_THROW(list[4000], std::out_of_range);
}

BOOST_AUTO_TEST_CASE(full_list_is_a_clear_error_and_keeps_what_it_had) {
  mproc::shared_list<std::string> list(16 * 1024);
  std::size_t added = 0;
  try {
    for (;; ++added) list.append(std::string(1000, 'x'));
  } catch (const mproc::error& e) {
    BOOST_TEST(std::string(e.what()).find("is full") != std::string::npos, e.what());
  }
  BOOST_TEST(added > 0u);
  BOOST_TEST(list.size() == added);  // the failed append changed nothing
  BOOST_TEST(list[added - 1] == std::string(1000, 'x'));
  list.clear();
  BOOST_TEST(list.empty());
  list.append("room again");
  BOOST_TEST(list.size() == 1u);
}

MPROC_TEST_EACH_METHOD(two_processes_fill_one_dict) {
  mproc::shared_dict<std::string, int> dict;
  mproc::process first(mproc::process_options{.method = method}, record_squares, dict, 0, 50);
  mproc::process second(mproc::process_options{.method = method}, record_squares, dict, 50, 50);
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
