// Inter-process communication figures beside their raw floors (same program,
// same run) and, when python3 is present, Python's multiprocessing.
//
//   bench_ipc [--json] [--rounds N]
#include <mproc/mproc.hpp>

#include "report.hpp"

#include <boost/interprocess/ipc/message_queue.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

// Round trips cost 5 to 10 times more when the two processes sit on different
// CPUs (a cross-CPU wake-up) than on one, and the scheduler picks either. Every
// figure is therefore taken with both placements pinned.
void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

double mean_us(int rounds, const std::function<void()>& once) {
  for (int i = 0; i < rounds / 20 + 1; ++i) once();  // warm-up
  const auto begin = clock_type::now();
  for (int i = 0; i < rounds; ++i) once();
  return std::chrono::duration<double, std::micro>(clock_type::now() - begin).count() / rounds;
}

// A forked child that echoes 8-byte messages from `in` to `out` until end of file.
pid_t start_raw_echo(int in, int out, int close_a, int close_b, int cpu) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    pin_to_cpu(cpu);
    ::close(close_a);
    ::close(close_b);
    std::uint64_t value;
    while (::read(in, &value, sizeof value) == static_cast<ssize_t>(sizeof value)) {
      if (::write(out, &value, sizeof value) != static_cast<ssize_t>(sizeof value)) break;
    }
    ::_exit(0);
  }
  return pid;
}

double raw_rtt_us(int rounds, bool socketpair, int child_cpu) {
  int to_child[2];
  int to_parent[2];
  if (socketpair) {
    ::socketpair(AF_UNIX, SOCK_STREAM, 0, to_child);
    to_parent[0] = to_child[0];  // duplex: one pair serves both ways
    to_parent[1] = to_child[1];
  } else if (::pipe(to_child) != 0 || ::pipe(to_parent) != 0) {
    return 0;
  }
  const int parent_write = to_child[1];
  const int parent_read = socketpair ? to_child[1] : to_parent[0];
  const int child_read = to_child[0];
  const int child_write = socketpair ? to_child[0] : to_parent[1];
  const pid_t child = start_raw_echo(child_read, child_write, parent_write, parent_read, child_cpu);
  if (!socketpair) {
    ::close(child_read);
    ::close(child_write);
  } else {
    ::close(child_read);
  }
  std::uint64_t value = 0;
  const double rtt = mean_us(rounds, [&] {
    if (::write(parent_write, &value, sizeof value) != static_cast<ssize_t>(sizeof value)) return;
    if (::read(parent_read, &value, sizeof value) != static_cast<ssize_t>(sizeof value)) return;
  });
  ::close(parent_write);
  if (!socketpair) ::close(parent_read);
  int status = 0;
  ::waitpid(child, &status, 0);
  return rtt;
}

void echo(mproc::connection end, int cpu) {
  pin_to_cpu(cpu);
  try {
    for (;;) end.send(end.recv<std::int64_t>());
  } catch (const mproc::eof_error&) {
  }
}

double pipe_rtt_us(int rounds, int child_cpu) {
  auto [ours, theirs] = mproc::pipe();
  mproc::process child(echo, theirs, child_cpu);
  child.start();
  theirs.close();
  std::int64_t value = 0;
  const double rtt = mean_us(rounds, [&] {
    ours.send(value);
    value = ours.recv<std::int64_t>();
  });
  ours.close();
  child.join();
  return rtt;
}

void barrier_party(mproc::barrier synchronizer, int rounds, int cpu) {
  pin_to_cpu(cpu);
  for (int i = 0; i < rounds; ++i) synchronizer.wait();
}

double barrier2_us(int rounds, int child_cpu) {
  mproc::barrier synchronizer(2);
  mproc::process child(barrier_party, synchronizer, rounds + 100, child_cpu);
  child.start();
  for (int i = 0; i < 100; ++i) synchronizer.wait();  // warm-up
  const auto begin = clock_type::now();
  for (int i = 0; i < rounds; ++i) synchronizer.wait();
  const double us = std::chrono::duration<double, std::micro>(clock_type::now() - begin).count() / rounds;
  child.join();
  return us;
}

double value_increments_per_s(int count) {
  mproc::value<std::int64_t> value;
  const auto begin = clock_type::now();
  for (int i = 0; i < count; ++i) {
    std::scoped_lock hold(value.get_lock());
    value.ref() += 1;
  }
  return count / std::chrono::duration<double>(clock_type::now() - begin).count();
}

double seconds_since(clock_type::time_point begin) {
  return std::chrono::duration<double>(clock_type::now() - begin).count();
}

template <class T>
void put_items(mproc::queue<T> queue, mproc::event go, T item, int count, int cpu) {
  if (cpu >= 0) pin_to_cpu(cpu);
  go.wait();
  for (int i = 0; i < count; ++i) queue.put(item);
}

template <class T>
void get_items(mproc::queue<T> queue, mproc::event go, int count) {
  go.wait();
  for (int i = 0; i < count; ++i) queue.get();
}

// Items per second from one producer child to this process.
template <class T>
double queue_items_per_s(const T& item, int count, int child_cpu) {
  mproc::queue<T> queue;
  mproc::event go;
  mproc::process producer(put_items<T>, queue, go, item, count, child_cpu);
  producer.start();
  const auto begin = clock_type::now();
  go.set();
  for (int i = 0; i < count; ++i) queue.get();
  const double per_s = count / seconds_since(begin);
  producer.join();
  return per_s;
}

// Items per second through one queue shared by two producer and two consumer
// children (no pinning: five processes on this machine's CPUs).
double queue_2_to_2_per_s(int count) {
  mproc::queue<std::int64_t> queue;
  mproc::event go;
  std::vector<mproc::process> children;
  for (int i = 0; i < 2; ++i) children.emplace_back(put_items<std::int64_t>, queue, go, std::int64_t{8}, count, -1);
  for (int i = 0; i < 2; ++i) children.emplace_back(get_items<std::int64_t>, queue, go, count);
  for (auto& child : children) child.start();
  const auto begin = clock_type::now();
  go.set();
  for (auto& child : children) child.join();
  return 2.0 * count / seconds_since(begin);
}

// The floor of the issue: Boost.Interprocess's message_queue (depth 1024),
// Items per second from a forked producer pinned on `child_cpu` to this
// process: the child runs `produce` once told to go, this process `consume`.
template <class Produce, class Consume>
double forked_producer_per_s(int count, int child_cpu, Produce produce, Consume consume) {
  int go[2];
  if (::pipe(go) != 0) return 0;
  const pid_t child = ::fork();
  if (child == 0) {
    pin_to_cpu(child_cpu);
    char byte;
    if (::read(go[0], &byte, 1) != 1) ::_exit(1);
    produce();
    ::_exit(0);
  }
  const auto begin = clock_type::now();
  if (::write(go[1], "g", 1) != 1) return 0;
  consume();
  const double per_s = count / seconds_since(begin);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(go[0]);
  ::close(go[1]);
  return per_s;
}

// 8-byte messages from a forked child.
double message_queue_per_s(int count, int child_cpu) {
  namespace bip = boost::interprocess;
  const std::string name = "mproc_bench_mq_" + std::to_string(::getpid());
  bip::message_queue::remove(name.c_str());
  bip::message_queue queue(bip::create_only, name.c_str(), 1024, sizeof(std::uint64_t));
  const double per_s = forked_producer_per_s(
      count, child_cpu,
      [&] {
        for (std::uint64_t i = 0; i < static_cast<std::uint64_t>(count); ++i) queue.send(&i, sizeof i, 0);
      },
      [&] {
        std::uint64_t value = 0;
        bip::message_queue::size_type received = 0;
        unsigned priority = 0;
        for (int i = 0; i < count; ++i) queue.receive(&value, sizeof value, received, priority);
      });
  bip::message_queue::remove(name.c_str());
  return per_s;
}

// The floor for 8-byte items: a plain single-producer single-consumer ring in
// shared memory (1024 slots), the producer a forked child on `child_cpu`. Each
// side publishes its position per item, reads the other's only when its last
// look says the ring is full (empty), and spins when it must wait: the usual
// fast SPSC ring, with nothing for sleeping, dead peers or item sizes.
double spsc_ring_per_s(int count, int child_cpu) {
  struct alignas(64) position {
    std::atomic<std::uint64_t> value{0};
  };
  struct ring {
    position head;  // items taken
    position tail;  // items put
    std::uint64_t slots[1024];
  };
  void* memory = ::mmap(nullptr, sizeof(ring), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return 0;
  auto* r = new (memory) ring();
  const auto n = static_cast<std::uint64_t>(count);
  std::uint64_t sum = 0;
  const double per_s = forked_producer_per_s(
      count, child_cpu,
      [&] {
        std::uint64_t known_head = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
          while (i - known_head >= 1024) {
            known_head = r->head.value.load(std::memory_order_acquire);
            if (i - known_head >= 1024) __builtin_ia32_pause();
          }
          r->slots[i % 1024] = i;
          r->tail.value.store(i + 1, std::memory_order_release);
        }
      },
      [&] {
        std::uint64_t known_tail = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
          while (known_tail == i) {
            known_tail = r->tail.value.load(std::memory_order_acquire);
            if (known_tail == i) __builtin_ia32_pause();
          }
          sum += r->slots[i % 1024];
          r->head.value.store(i + 1, std::memory_order_release);
        }
      });
  ::munmap(memory, sizeof(ring));
  return sum == n * (n - 1) / 2 ? per_s : 0;  // the floor must be honest
}

}  // namespace

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  const auto [json, rounds] = bench::parse_options(argc, argv, 20000);
  bench::report report;
  pin_to_cpu(0);
  const int other_cpu = mproc::cpu_count() > 1 ? 1 : 0;
  for (const auto& [placement, cpu] : {std::pair<std::string, int>{"cross_cpu", other_cpu}, {"same_cpu", 0}}) {
    report.add("raw_pipe_rtt_" + placement + "_us", raw_rtt_us(rounds, false, cpu), "us", "two pipes, 8 bytes each way");
    report.add("raw_socketpair_rtt_" + placement + "_us", raw_rtt_us(rounds, true, cpu), "us",
               "one socketpair, 8 bytes each way");
    report.add("pipe_rtt_" + placement + "_us", pipe_rtt_us(rounds, cpu), "us", "mproc::pipe, an int64 each way");
    report.add("barrier2_" + placement + "_us", barrier2_us(rounds, cpu), "us", "mproc::barrier(2), per wait");
  }
  report.add("value_incr_per_s", value_increments_per_s(2000000), "1/s", "value<int64> += 1 under its lock");

  const int small_items = rounds * 50;
  // The queue and its floor move as many items (16 laps of the queue's 4 MiB
  // ring): a shorter run measured mostly the first lap, the ring's pages
  // being committed as the producer first reaches them.
  report.add("queue_8B_per_s", queue_items_per_s(std::int64_t{8}, small_items * 4, other_cpu), "1/s",
             "queue<int64>, 1 producer child -> this process, cross CPU");
  report.add("message_queue_8B_per_s", message_queue_per_s(small_items, other_cpu), "1/s",
             "raw boost::interprocess::message_queue, depth 1024, same shape");
  report.add("spsc_ring_8B_per_s", spsc_ring_per_s(small_items * 4, other_cpu), "1/s",
             "floor: a raw 1-producer 1-consumer ring in shared memory, spinning, same shape");
  report.add("queue_8B_2_to_2_per_s", queue_2_to_2_per_s(small_items / 2), "1/s",
             "queue<int64>, 2 producer and 2 consumer children");
  const int large_items = std::max(rounds / 10, 20);
  const double mib_per_s =
      queue_items_per_s(std::vector<std::uint8_t>(std::size_t{1} << 20, 1), large_items, other_cpu);
  report.add("queue_1MiB_GB_per_s", mib_per_s * double(1 << 20) / 1e9, "GB/s",
             "queue<vector<uint8_t>> of 1 MiB items, 1 producer child -> this process");

  const std::string python = bench::capture("command -v python3 >/dev/null && python3 " MPROC_BENCH_PYTHON_DIR
                                            "/bench_ipc.py " + std::to_string(rounds) + " " + std::to_string(other_cpu));
  if (python.empty() && !json) std::cout << "python3 not found: Python's figures are left out\n";
  for (const auto& [name, value] : bench::parse_flat_json(python)) {
    const char* unit = name.ends_with("GB_per_s") ? "GB/s" : name.ends_with("_per_s") ? "1/s" : "us";
    report.add(name, value, unit, "multiprocessing");
  }

  report.add_ratio("pipe_rtt_vs_raw_pipe", "pipe_rtt_cross_cpu_us", "raw_pipe_rtt_cross_cpu_us", "goal <= 1.3");
  report.add_ratio("pipe_rtt_vs_raw_socketpair", "pipe_rtt_cross_cpu_us", "raw_socketpair_rtt_cross_cpu_us");
  report.add_ratio("pipe_same_cpu_vs_raw_pipe", "pipe_rtt_same_cpu_us", "raw_pipe_rtt_same_cpu_us");
  report.add_ratio("python_pipe_vs_pipe", "python_pipe_rtt_cross_cpu_us", "pipe_rtt_cross_cpu_us");
  report.add_ratio("barrier2_python_vs_ours", "python_barrier2_cross_cpu_us", "barrier2_cross_cpu_us", "goal >= 3");
  report.add_ratio("value_incr_vs_python", "value_incr_per_s", "python_value_incr_per_s", "goal >= 30");
  report.add_ratio("queue_8B_vs_python", "queue_8B_per_s", "python_queue_8B_per_s", "goal >= 40");
  report.add_ratio("queue_8B_vs_message_queue", "queue_8B_per_s", "message_queue_8B_per_s", "goal >= 1.5");
  report.add_ratio("queue_8B_vs_spsc_floor", "queue_8B_per_s", "spsc_ring_8B_per_s", "goal >= 0.5");
  report.add_ratio("queue_8B_2_to_2_vs_python", "queue_8B_2_to_2_per_s", "python_queue_8B_2_to_2_per_s");
  report.add_ratio("queue_1MiB_vs_python", "queue_1MiB_GB_per_s", "python_queue_1MiB_GB_per_s");
  report.print(json);
}
