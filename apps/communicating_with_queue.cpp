// Communicating with a queue: a producer process appends ten random integers
// to a shared queue and a consumer process pops them, each printing what it
// does (the classic demo, with its seconds made tenths). The producer closes
// the queue after its last item, which is how the consumer knows to stop.
// Then two producers and three consumers share one queue, and the main
// program checks that every item arrived exactly once.
#include <mproc/mproc.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

// What both demo processes are: a process holding the queue they share (its
// state, which travels to a spawned child with it).
class queue_user : public mproc::process {
 public:
  queue_user() = default;
  explicit queue_user(mproc::queue<int> queue) : queue_(std::move(queue)) {}

  template <class Archive>
  void serialize(Archive& archive) {
    archive(queue_);
  }

 protected:
  mproc::queue<int> queue_;
};

class producer : public queue_user {
 public:
  using queue_user::queue_user;

 protected:
  void run() override {
    std::mt19937 random(std::random_device{}());
    std::uniform_int_distribution<int> item_of(0, 256);
    for (int i = 0; i < 10; ++i) {
      const int item = item_of(random);
      queue_.put(item);
      std::cout << "Process Producer : item " << item << " appended to queue " << name() << std::endl;
      std::this_thread::sleep_for(100ms);
      std::cout << "The size of queue is " << queue_.size() << std::endl;
    }
    queue_.shutdown();  // no more items: the consumer's get() ends once it has taken them all
  }
};

class consumer : public queue_user {
 public:
  using queue_user::queue_user;

 protected:
  void run() override {
    for (;;) {
      std::this_thread::sleep_for(150ms);
      try {
        const int item = queue_.get(5s);
        std::cout << "Process Consumer : item " << item << " popped from by " << name() << std::endl;
      } catch (const mproc::closed_error&) {
        std::cout << "the queue is empty" << std::endl;
        return;
      }
    }
  }
};

MPROC_REGISTER_PROCESS(producer);
MPROC_REGISTER_PROCESS(consumer);

constexpr int items_per_producer = 1000;

void produce(mproc::queue<int> queue, int first) {
  for (int i = 0; i < items_per_producer; ++i) queue.put(first + i);
}

void consume(mproc::queue<int> queue, mproc::shared_list<int> taken) {
  try {
    for (;;) taken.append(queue.get());
  } catch (const mproc::closed_error&) {
  }
}

void many_producers_and_consumers() {
  mproc::queue<int> queue(64);
  std::vector<mproc::shared_list<int>> taken(3);
  std::vector<mproc::process> producers;
  std::vector<mproc::process> consumers;
  for (int p = 0; p < 2; ++p) {
    producers.emplace_back(mproc::process_options{.name = "producer-" + std::to_string(p + 1)}, produce, queue,
                           p * 100000);
  }
  for (int c = 0; c < 3; ++c) {
    consumers.emplace_back(mproc::process_options{.name = "consumer-" + std::to_string(c + 1)}, consume, queue,
                           taken[c]);
  }
  for (auto& p : consumers) p.start();
  for (auto& p : producers) p.start();
  for (auto& p : producers) p.join();
  queue.shutdown();  // the consumers take what is left, then stop
  for (auto& p : consumers) p.join();

  std::vector<int> all;
  for (int c = 0; c < 3; ++c) {
    const auto items = taken[c].snapshot();
    std::cout << consumers[c].name() << " took " << items.size() << " items" << std::endl;
    all.insert(all.end(), items.begin(), items.end());
  }
  std::vector<int> expected;
  for (int p = 0; p < 2; ++p) {
    for (int i = 0; i < items_per_producer; ++i) expected.push_back(p * 100000 + i);
  }
  std::sort(all.begin(), all.end());
  std::cout << "2 producers, 3 consumers: " << expected.size() << " items put, " << all.size()
            << " taken, every item exactly once: " << (all == expected ? "yes" : "NO") << std::endl;
}

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  mproc::queue<int> queue;
  producer process_producer(queue);
  consumer process_consumer(queue);
  process_producer.set_name("producer-1");
  process_consumer.set_name("consumer-2");
  process_producer.start();
  process_consumer.start();
  process_producer.join();
  process_consumer.join();

  many_producers_and_consumers();
}
