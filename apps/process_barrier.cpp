// A barrier between processes: p1 and p2 meet at a barrier before printing the
// time, so their lines carry the same moment even though p1 sleeps first; p3
// and p4 print at once. A lock keeps the lines whole.
#include <mproc/mproc.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <mutex>
#include <thread>

std::string now_text() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", std::localtime(&seconds));
  char full[80];
  std::snprintf(full, sizeof full, "%s.%06lld", text, static_cast<long long>(micros));
  return full;
}

void test_with_barrier(mproc::barrier synchronizer, mproc::lock serializer, int delay_ms) {
  const std::string name = mproc::current_process().name;
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  synchronizer.wait();
  const std::string now = now_text();
  std::scoped_lock hold(serializer);
  std::cout << "process " << name << " ----> " << now << std::endl;
}

void test_without_barrier(mproc::lock serializer) {
  const std::string name = mproc::current_process().name;
  const std::string now = now_text();
  std::scoped_lock hold(serializer);
  std::cout << "process " << name << " ----> " << now << std::endl;
}

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  mproc::barrier synchronizer(2);
  mproc::lock serializer;
  std::vector<mproc::process> processes;
  processes.emplace_back(mproc::process_options{.name = "p1 - test_with_barrier"}, test_with_barrier, synchronizer,
                         serializer, 1500);
  processes.emplace_back(mproc::process_options{.name = "p2 - test_with_barrier"}, test_with_barrier, synchronizer,
                         serializer, 0);
  processes.emplace_back(mproc::process_options{.name = "p3 - test_without_barrier"}, test_without_barrier, serializer);
  processes.emplace_back(mproc::process_options{.name = "p4 - test_without_barrier"}, test_without_barrier, serializer);
  for (auto& p : processes) p.start();
  for (auto& p : processes) p.join();
}
