// Shared state: two processes run a CPU-bound do_something(1000, out_list),
// each appending to a list in shared memory, then the main program prints both
// lengths and the time. Then four processes add to one shared counter under its
// lock, and it ends at exactly 4 x N. Then what Python's Manager() gives: a
// list that grows past what the old fixed capacity (1 MiB) held, a dict
// counter updated atomically by four processes, and a namespace.
#include "common/do_something.hpp"

#include <mproc/mproc.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <mutex>

constexpr int increments = 25000;
constexpr int appended_each = 100000;
constexpr int counted_each = 10000;

void append_many(mproc::shared_list<double> list, int first) {
  for (int i = first; i < first + appended_each; ++i) list.append(i * 0.5);
}

void count_hits(mproc::shared_dict<std::string, int> counts) {
  for (int i = 0; i < counted_each; ++i) counts.update_item("hits", [](int& v) { v += 1; });
}

void fill_namespace(mproc::shared_namespace ns) {
  ns.set("answer", ns.get<int>("x") * 2);
  ns.set("who", std::string("a child process"));
}

void manager_like(mproc::shared_list<double>& big) {
  mproc::process first(append_many, big, 0);
  mproc::process second(append_many, big, appended_each);
  first.start();
  second.start();
  first.join();
  second.join();
  std::cout << "shared_list grown by 2 processes to " << big.size() << " doubles, " << std::setprecision(1)
            << big.committed_bytes() / 1048576.0 << " MiB of shared memory (past the old fixed 1 MiB capacity)"
            << std::endl;

  mproc::shared_dict<std::string, int> counts;
  std::vector<mproc::process> counters;
  for (int i = 0; i < 4; ++i) counters.emplace_back(count_hits, counts);
  for (auto& p : counters) p.start();
  for (auto& p : counters) p.join();
  std::cout << "counts[\"hits\"] after 4 processes x " << counted_each << " update_item: " << counts.at("hits")
            << " (expected " << 4 * counted_each << ")" << std::endl;

  mproc::shared_namespace ns;
  ns.set("x", 21);
  mproc::process child(fill_namespace, ns);
  child.start();
  child.join();
  std::cout << "namespace: x = " << ns.get<int>("x") << ", answer = " << ns.get<int>("answer")
            << ", set by " << ns.get<std::string>("who") << std::endl;
}

void add_to(mproc::value<int> counter) {
  for (int i = 0; i < increments; ++i) {
    std::scoped_lock hold(counter.get_lock());
    counter.ref() += 1;
  }
}

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  const auto begin = std::chrono::steady_clock::now();
  mproc::shared_list<double> out_list1;
  mproc::shared_list<double> out_list2;
  mproc::process process_with_name(mproc::process_options{.name = "do_something process 1"}, do_something, 1000,
                                   out_list1);
  mproc::process process_with_default_name(do_something, 1000, out_list2);
  process_with_name.start();
  process_with_default_name.start();
  process_with_name.join();
  process_with_default_name.join();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - begin;
  std::cout << "Process 1 (" << process_with_name.name() << ") output list length: " << out_list1.size() << std::endl;
  std::cout << "Process 2 (" << process_with_default_name.name() << ") output list length: " << out_list2.size()
            << std::endl;
  std::cout << "Total execution time: " << std::fixed << std::setprecision(2) << took.count() << " seconds"
            << std::endl;

  mproc::value<int> counter;
  std::vector<mproc::process> adders;
  for (int i = 0; i < 4; ++i) adders.emplace_back(add_to, counter);
  for (auto& p : adders) p.start();
  for (auto& p : adders) p.join();
  std::cout << "counter after 4 processes x " << increments << " locked increments: " << counter.get()
            << " (expected " << 4 * increments << ")" << std::endl;

  mproc::shared_list<double> big;
  manager_like(big);
}
