// What pool tasks are made of: the bytes a worker is sent, the entries that run
// them in the worker, and the state a submitted job shares with its results.
//
// A task message is [u64 job][u64 chunk][u32 head length][head][arguments]:
// the head names the entry function and the user's function as code addresses
// (see target.hpp), and is the same for every chunk of a job, so a worker
// resolves it once. A result message is [u64 job][u64 chunk][u32 slot]
// [u32 status][payload]: the results' bytes, or an error's type and message.
#pragma once

#include <mproc/detail/archive.hpp>
#include <mproc/detail/target.hpp>
#include <mproc/error.hpp>
#include <mproc/shared_memory.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <thread>
#include <utility>
#include <vector>

namespace mproc::detail {

/// How a task ended, as a worker reports it.
enum class task_status : std::uint32_t {
  done = 0,
  raised = 1,                 // payload: type name, '\0', message
  unserialisable_result = 2,  // payload: message
  undecodable_task = 3,       // payload: message
  stopped = 4,                // asked to stop (timeout, cancel): the result, if any, is dropped
};

constexpr std::size_t task_ids_bytes = 16;

/// Runs one chunk in a worker: decodes the arguments after the head, calls the
/// user's function (at `target`, or a default-constructed F), and appends the
/// encoded results to `out`. Exceptions of the user's function pass through.
using task_entry = task_status (*)(std::uintptr_t target, input_archive& in, std::string& out);

/// The result type a void function stands for: one byte, so that a vector of
/// them can be read back by the bounded archive.
struct no_value {
  template <class Archive>
  void serialize(Archive& archive) {
    std::uint8_t zero = 0;
    archive(zero);
  }
};

template <class R>
using stored_result = std::conditional_t<std::is_void_v<R>, no_value, R>;

template <class T>
struct is_std_vector : std::false_type {};
template <class T, class A>
struct is_std_vector<std::vector<T, A>> : std::true_type {};

/// One-sentence errors for what cannot travel between the parent and a worker;
/// the compiler names T in the instantiation just above the sentence.
template <class T>
constexpr bool check_task_argument() {
  static_assert(travelling_value<T>,
                "a pool task's argument must travel to a worker, and this type cannot: give it a cereal "
                "serialize(Archive&) function and a default constructor (plain structs need neither)");
  return travelling_value<T>;
}
template <class R>
constexpr bool check_task_result() {
  static_assert(std::is_void_v<R> || travelling_value<R>,
                "a pool task's result must travel back from the worker, and this type cannot: give it a cereal "
                "serialize(Archive&) function and a default constructor (plain structs need neither)");
  return std::is_void_v<R> || travelling_value<R>;
}

/// R, checked to travel back; void after the error if it cannot.
template <class R>
constexpr auto checked_result() {
  if constexpr (check_task_result<R>()) {
    return std::type_identity<R>{};
  } else {
    return std::type_identity<void>{};
  }
}

/// What f returns for an item of type T (checked to travel back); void when
/// it cannot be called or its result cannot travel (after the error).
template <class F, class T>
constexpr auto task_result_of() {
  static_assert(std::invocable<F&, T&>,
                "the task cannot be called with an item of the inputs as it travels (a string literal travels as "
                "std::string: take std::string or std::string_view)");
  if constexpr (std::invocable<F&, T&>) {
    return checked_result<std::invoke_result_t<F&, T&>>();
  } else {
    return std::type_identity<void>{};
  }
}
template <class F, class T>
using task_result_t = typename decltype(task_result_of<F, T>())::type;

/// The same for f called with the elements of a tuple (starmap, apply).
template <class F, class Tuple, std::size_t... I>
constexpr auto star_result_of(std::index_sequence<I...>) {
  static_assert(std::invocable<F&, std::tuple_element_t<I, Tuple>&...>,
                "the task cannot be called with the elements of this tuple of arguments");
  if constexpr (std::invocable<F&, std::tuple_element_t<I, Tuple>&...>) {
    return checked_result<std::invoke_result_t<F&, std::tuple_element_t<I, Tuple>&...>>();
  } else {
    return std::type_identity<void>{};
  }
}

/// f can run in a worker on items of type Item (tuples of arguments when
/// Star): checked without a second error, to stop at the first one.
template <class F, class Item, bool Star>
constexpr bool task_travels() {
  if constexpr (!travelling_value<Item>) {
    return false;
  } else if constexpr (Star) {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      if constexpr (std::invocable<F&, std::tuple_element_t<I, Item>&...>) {
        using R = std::invoke_result_t<F&, std::tuple_element_t<I, Item>&...>;
        return std::is_void_v<R> || travelling_value<R>;
      } else {
        return false;
      }
    }(std::make_index_sequence<std::tuple_size_v<Item>>{});
  } else if constexpr (std::invocable<F&, Item&>) {
    using R = std::invoke_result_t<F&, Item&>;
    return std::is_void_v<R> || travelling_value<R>;
  } else {
    return false;
  }
}
template <class F, class Tuple>
using star_result_t =
    typename decltype(star_result_of<F, Tuple>(std::make_index_sequence<std::tuple_size_v<Tuple>>{}))::type;

template <class F>
F& function_at(std::uintptr_t target, F& made) {
  if constexpr (std::is_pointer_v<F>) {
    made = reinterpret_cast<F>(target);
  }
  return made;
}

void write_error(std::string& out, std::string_view text);
/// Item `index` of a chunk of `count` begins: report_progress() counts within the chunk.
void item_started(std::size_t index, std::size_t count) noexcept;

template <class Items, class Call>
task_status run_each(input_archive& in, std::string& out, Call call) {
  Items items;
  try {
    in(items);
  } catch (const std::exception& e) {
    write_error(out, std::string("cannot decode the task's arguments: ") + e.what());
    return task_status::undecodable_task;
  }
  decoding_done();
  using R = decltype(call(items.front()));
  std::vector<stored_result<R>> results;
  results.reserve(items.size());
  for (auto& item : items) {
    item_started(results.size(), items.size());
    if constexpr (std::is_void_v<R>) {
      call(item);
      results.emplace_back();
    } else {
      results.push_back(call(item));
    }
  }
  const std::size_t mark = out.size();  // the result message's head is already there
  try {
    append_bytes(out, results);
  } catch (const std::exception& e) {
    out.resize(mark);
    write_error(out, std::string("the task's result cannot be serialised: ") + e.what());
    return task_status::unserialisable_result;
  }
  return task_status::done;
}

/// A chunk of numbers mapped to numbers, in the bytes run_each would read and
/// write, but read in place from the message and written in place into the
/// result: no vectors between (they cost a page fault per 4 KiB, twice).
template <class T, class R, class Call>
task_status run_numbers(input_archive& in, std::string& out, Call call) {
  cereal::size_type count = 0;
  std::string_view items;
  try {
    in(cereal::make_size_tag(count));
    if (count > in.bytes_left() / sizeof(T)) throw cereal::Exception("the chunk's items end early");
    items = in.take_bytes(static_cast<std::size_t>(count) * sizeof(T));
  } catch (const std::exception& e) {
    write_error(out, std::string("cannot decode the task's arguments: ") + e.what());
    return task_status::undecodable_task;
  }
  decoding_done();
  {
    byte_output_archive archive(out);
    archive(cereal::make_size_tag(count));
  }
  const std::size_t at = out.size();
  const auto n = static_cast<std::size_t>(count);
  out.resize(at + n * sizeof(R));
  item_started(0, 1);  // progress reported from inside counts for the whole chunk, as in a team chunk
  for (std::size_t i = 0; i < n; ++i) {
    T item;
    std::memcpy(&item, items.data() + i * sizeof(T), sizeof(T));
    const R result = call(item);
    std::memcpy(out.data() + at + i * sizeof(R), &result, sizeof(R));
  }
  return task_status::done;
}

template <class T>
concept plain_number = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

/// map: each item of a chunk is one argument.
template <class F, class T>
task_status map_entry(std::uintptr_t target, input_archive& in, std::string& out) {
  F made{};
  F& f = function_at(target, made);
  if constexpr (plain_number<T>) {
    using R = std::invoke_result_t<F&, T&>;
    if constexpr (plain_number<R>) return run_numbers<T, R>(in, out, [&](T& item) { return f(item); });
  }
  return run_each<std::vector<T>>(in, out, [&](T& item) { return f(item); });
}

/// starmap and apply: each item of a chunk is a tuple of arguments.
template <class F, class Tuple>
task_status star_entry(std::uintptr_t target, input_archive& in, std::string& out) {
  F made{};
  F& f = function_at(target, made);
  return run_each<std::vector<Tuple>>(in, out, [&](Tuple& args) { return std::apply(f, args); });
}

/// Values that can be copied as bytes into shared memory and read there by
/// another process: a map over them needs no encoding at all (see team_layout).
template <class T>
concept plain_value = std::is_trivially_copyable_v<T> && std::default_initializable<T> && !std::is_pointer_v<T> &&
                      !std::is_member_pointer_v<T> && !std::is_same_v<T, bool>;

/// A map whose items and results are plain values runs as a "team" job: the
/// items are copied once into a shared memory block (an arena), every worker
/// claims chunks there (a compare-and-swap on the chunk's state word: 0 free,
/// slot + 1 taken, team_done or team_failed) and writes the results in place.
/// No message per chunk: the parent hears only each worker's end of its share.
struct team_layout {
  std::atomic<std::uint64_t> next_chunk;  // where claiming goes on
  std::atomic<std::uint64_t> returned;    // chunks given back after a death, to be claimed first
  std::uint64_t chunks;
  std::uint64_t items;
  std::uint64_t chunksize;
  std::uint64_t states_at;  // offsets in the arena, 64-byte aligned
  std::uint64_t items_at;
  std::uint64_t results_at;
  std::uint64_t item_size;
  std::uint64_t result_size;
};
constexpr std::uint32_t team_done = 0xffffffffu;
constexpr std::uint32_t team_failed = 0xfffffffeu;
constexpr std::uint32_t team_returned = 0xfffffffdu;  // free again: its worker died (retry_lost_tasks)

/// Runs f over `count` items at `in`, writing the results at `out`.
using team_chunk = void (*)(std::uintptr_t target, const void* in, void* out, std::size_t count);

template <class F, class T, class R>
void team_chunk_for(std::uintptr_t target, const void* in, void* out, std::size_t count) {
  F made{};
  F& f = function_at(target, made);
  const T* items = static_cast<const T*>(in);
  R* results = static_cast<R*>(out);
  for (std::size_t i = 0; i < count; ++i) results[i] = f(items[i]);
}

/// The head of a task for `entry` and the function `target`: computed once per
/// (entry, target) pair in this process.
const std::string& task_head(std::uintptr_t entry, std::uintptr_t target);

/// A task message with room for its ids, and the head.
inline std::string task_message_head(const std::string& head, std::size_t room) {
  std::string bytes;
  bytes.reserve(task_ids_bytes + sizeof(std::uint32_t) + head.size() + room);
  bytes.assign(task_ids_bytes, '\0');
  const auto head_length = static_cast<std::uint32_t>(head.size());
  bytes.append(reinterpret_cast<const char*>(&head_length), sizeof head_length);
  bytes += head;
  return bytes;
}

/// A task message: its head, then `items` encoded.
template <class Items>
std::string task_message(const std::string& head, const Items& items) {
  std::string bytes = task_message_head(head, 0);
  append_bytes(bytes, items);
  return bytes;
}

/// The same for `count` numbers at `items`, written as cereal writes a vector
/// of them (its length, then the bytes), without making the vector.
template <class T>
std::string task_message_of_numbers(const std::string& head, const T* items, std::size_t count) {
  std::string bytes = task_message_head(head, sizeof(std::uint64_t) + count * sizeof(T));
  const auto length = static_cast<std::uint64_t>(count);
  bytes.append(reinterpret_cast<const char*>(&length), sizeof length);
  bytes.append(reinterpret_cast<const char*>(items), count * sizeof(T));
  return bytes;
}

/// A submitted job: its chunks' results as they arrive.
/// What the progress callback is told of a job of several chunks, or of a lazy
/// imap (whose chunks are jobs of their own): the items of finished chunks,
/// plus the items' worth that the tasks of running chunks reported of
/// themselves (report_progress), and the total (0: not known). What it shows
/// never goes back (a chunk run again after its worker died starts anew).
struct progress_share {
  progress_share() = default;
  explicit progress_share(std::size_t total_items) : total(total_items) {}

  std::size_t total = 0;
  /// A chunk of `items` finished: the new count, if it grew.
  std::optional<std::size_t> chunk_finished(const void* job, std::size_t chunk, std::size_t items);
  /// The task of a running chunk of `items` is `done` of `of`: the new count,
  /// if it grew by at least an item.
  std::optional<std::size_t> chunk_reported(const void* job, std::size_t chunk, std::size_t items, std::size_t done,
                                            std::size_t of);

 private:
  std::mutex mutex_;
  std::size_t finished_ = 0;  // items of finished chunks
  std::size_t running_ = 0;   // items' worth reported by running chunks
  std::size_t shown_ = 0;
  std::map<std::pair<const void*, std::size_t>, std::size_t> reported_;  // (job, chunk): items' worth
  std::optional<std::size_t> show();
};

struct job_state {
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t chunks = 0;
  std::size_t items = 0;
  std::vector<std::size_t> chunk_items;
  std::size_t finished = 0;
  std::size_t items_done = 0;
  std::vector<std::optional<std::string>> results;  // each chunk's encoded vector of results
  std::vector<std::exception_ptr> errors;            // each chunk's error, if it failed
  std::vector<std::size_t> completion_order;         // chunk indices as they finished
  std::exception_ptr first_error;
  struct callback {
    std::uint64_t id;
    std::function<void()> run;
  };
  std::vector<callback> when_done;                   // run once, after the last chunk
  std::uint64_t last_callback_id = 0;
  std::size_t chunk_waiters = 0;                     // threads waiting for a chunk, not the whole job
  shared_memory arena;                               // a team job's items and results
  std::size_t results_at = 0;                        // where the results are in the arena
  bool running_callbacks = false;                    // the last chunk is in; when_done runs now
  std::thread::id callbacks_thread;                  // ... on this thread
  std::function<bool(job_state&)> cancel;            // takes back a job that no worker has started
  std::shared_ptr<progress_share> progress;          // a job of several chunks; an imap's jobs share one
  /// Every chunk has finished.
  bool complete() const { return finished == chunks; }
  /// Complete, and its callbacks have run (as Python's AsyncResult runs its
  /// callback before wait() returns): what waiting for the job waits for. The
  /// callbacks' own thread does not wait for them, so a callback may wait too.
  bool settled() const {
    return complete() && (!running_callbacks || callbacks_thread == std::this_thread::get_id());
  }

  /// Waits (holding `lock` on mutex) for `ready()`, counted as a chunk waiter:
  /// a finished chunk wakes waiters only when there are some.
  template <class Ready>
  void wait_for_chunk(std::unique_lock<std::mutex>& lock, Ready ready) {
    ++chunk_waiters;
    changed.wait(lock, ready);
    --chunk_waiters;
  }
};

/// Waits for the job; false if `timeout` ran out first.
bool wait_for_job(job_state& job, std::optional<std::chrono::nanoseconds> timeout);
/// Runs `callback` once the job is complete: now, here, if it is already
/// (then 0 is returned); else an id for forget_job_callback.
std::uint64_t when_job_done(job_state& job, std::function<void()> callback);
/// Drops a callback not run yet (a waiter that gave up), so that waiting on a
/// long job again and again does not pile callbacks up on it.
void forget_job_callback(job_state& job, std::uint64_t id) noexcept;

/// The encoded results of chunk `chunk` once it finished (they stay with the
/// job). Errors: what the task failed with.
std::string_view chunk_bytes(job_state& job, std::size_t chunk);

/// The results of chunk `chunk` once it finished. Errors: what the task failed with.
template <class R>
std::vector<stored_result<R>> chunk_results(job_state& job, std::size_t chunk) {
  const std::string_view bytes = chunk_bytes(job, chunk);
  try {
    return from_bytes<std::vector<stored_result<R>>>(bytes);
  } catch (const std::exception& e) {
    throw serialization_error(std::string("cannot decode a task's result: ") + e.what());
  }
}

}  // namespace mproc::detail
