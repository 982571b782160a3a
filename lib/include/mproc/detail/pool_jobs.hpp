// How a pool call becomes a job: its inputs cut into chunks and each chunk
// encoded as a task message (or, for plain values, one team job over the
// caller's memory), then handed to pool_core. Templates, since they see the
// task's types; everything after encoding is in lib/src.
#pragma once

#include <mproc/detail/pool_core.hpp>
#include <mproc/detail/pool_imap.hpp>
#include <mproc/detail/pool_tasks.hpp>
#include <mproc/error.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace mproc::detail {

/// A chunk's task message; what encoding reserved is freed if it fails.
template <class Item>
std::string encode_chunk(const std::string& head, const std::vector<Item>& part, handle_outbox& outbox) {
  try {
    return task_message(head, part);
  } catch (const serialization_error&) {
    outbox.started(-1);
    throw;
  } catch (const std::exception& e) {
    outbox.started(-1);
    throw serialization_error(std::string("a task's arguments cannot be serialised: ") + e.what());
  }
}

/// map over numbers in contiguous memory: each chunk is written straight from
/// the caller's range, no copy of it made first.
template <class F, class Item>
std::shared_ptr<job_state> submit_numbers(pool_core& core, F f, const Item* items, std::size_t count,
                                          std::size_t chunksize, std::optional<std::chrono::nanoseconds> timeout) {
  if (chunksize == 0) chunksize = automatic_chunksize(count, core.processes());
  const std::string& head = task_head(reinterpret_cast<std::uintptr_t>(&map_entry<F, Item>), target_address(f));
  std::vector<std::string> chunks;
  std::vector<std::size_t> sizes;
  chunks.reserve(count / chunksize + 1);
  for (std::size_t at = 0; at < count; at += chunksize) {
    const std::size_t n = std::min(count - at, chunksize);
    chunks.push_back(task_message_of_numbers(head, items + at, n));
    sizes.push_back(n);
  }
  return core.submit(std::move(chunks), std::move(sizes), timeout, encoding_outbox());
}

/// The eager maps (map, starmap, apply): all inputs read and encoded now.
/// `whole`: the results are wanted all at once (map), not chunk by chunk.
template <class F, class Item, bool Star, std::ranges::input_range Range>
std::shared_ptr<job_state> submit_map(pool_core& core, F f, const Range& inputs, std::size_t chunksize,
                                      std::optional<std::chrono::nanoseconds> timeout, bool whole) {
  if constexpr (!Star && std::ranges::contiguous_range<Range> && std::ranges::sized_range<Range> &&
                plain_value<Item>) {
    using R = std::invoke_result_t<F&, Item&>;
    if constexpr (plain_value<R>) {
      if (whole && core.takes_team_jobs()) {
        const std::size_t count = std::ranges::size(inputs);
        const std::string& head =
            task_head(reinterpret_cast<std::uintptr_t>(&team_chunk_for<F, Item, R>), target_address(f));
        return core.submit_team(head, std::ranges::data(inputs), count, sizeof(Item), sizeof(R),
                                chunksize == 0 ? automatic_chunksize(count, core.processes()) : chunksize, timeout);
      }
    }
  }
  if constexpr (!Star && std::is_arithmetic_v<Item> && !std::is_same_v<Item, bool> &&
                std::ranges::contiguous_range<Range> && std::ranges::sized_range<Range>) {
    return submit_numbers<F, Item>(core, f, std::ranges::data(inputs), std::ranges::size(inputs), chunksize, timeout);
  }
  std::vector<Item> all(std::ranges::begin(inputs), std::ranges::end(inputs));
  if (chunksize == 0) chunksize = automatic_chunksize(all.size(), core.processes());
  std::uintptr_t entry = 0;
  if constexpr (Star) {
    entry = reinterpret_cast<std::uintptr_t>(&star_entry<F, Item>);
  } else {
    entry = reinterpret_cast<std::uintptr_t>(&map_entry<F, Item>);
  }
  const std::string& head = task_head(entry, target_address(f));
  auto outbox = encoding_outbox();
  std::vector<std::string> chunks;
  std::vector<std::size_t> sizes;
  {
    outbox_scope scope(*outbox);
    std::vector<Item> part;
    for (std::size_t at = 0; at < all.size(); at += chunksize) {
      const std::size_t end = std::min(all.size(), at + chunksize);
      part.assign(std::make_move_iterator(all.begin() + at), std::make_move_iterator(all.begin() + end));
      chunks.push_back(encode_chunk(head, part, *outbox));
      sizes.push_back(end - at);
    }
  }
  check_encoded(*outbox);
  return core.submit(std::move(chunks), std::move(sizes), timeout, std::move(outbox));
}

/// The lazy maps (imap, imap_unordered): a feed that reads `inputs` (kept,
/// moved in if an rvalue) a chunk, or a window of chunks, at a time as results
/// are read. `buffersize`: chunks in the pool at a time, 0 for the default.
template <class F, class T, class Range>
std::unique_ptr<imap_feed> lazy_feed(std::shared_ptr<pool_core> core, F f, Range&& inputs, std::size_t chunksize,
                                     std::size_t buffersize, bool in_order) {
  std::size_t total = 0;  // for the progress callback: not known for an unsized range
  if constexpr (std::ranges::sized_range<Range>) total = static_cast<std::size_t>(std::ranges::size(inputs));
  auto source = std::make_shared<input_source<std::views::all_t<Range>>>(std::views::all(std::forward<Range>(inputs)));
  chunksize = std::max<std::size_t>(chunksize, 1);
  const std::size_t in_pool = buffersize != 0 ? buffersize : 64 * core->processes();
  if constexpr (plain_value<T>) {
    using R = std::invoke_result_t<F&, T&>;
    if constexpr (plain_value<R> && std::is_same_v<R, stored_result<R>>) {
      // Small chunks only: a message per chunk costs microseconds, which big
      // chunks make up for (and a window is read only once it is whole).
      if (in_order && chunksize < 1024 && core->takes_team_jobs()) {
        // Two windows of half the buffer each: one is read while the other
        // runs. A window costs the pool a few microseconds, so by default it
        // is also at least 4,096 items (at most 1 MiB of them).
        const std::string& team_head =
            task_head(reinterpret_cast<std::uintptr_t>(&team_chunk_for<F, T, R>), target_address(f));
        std::size_t window_chunks = std::max<std::size_t>(in_pool / 2, 1);
        if (buffersize == 0) {
          const std::size_t items = std::clamp<std::size_t>((std::size_t{1} << 20) / sizeof(T), 1, 4096);
          window_chunks = std::max(window_chunks, (items + chunksize - 1) / chunksize);
        }
        const std::size_t window = chunksize * window_chunks;
        auto next_window = [source, pool = core.get(), &team_head, chunksize, window](bool continuing) {
          std::vector<T> part = source->template take<T>(window);
          if (part.empty()) return std::shared_ptr<job_state>();
          return pool->submit_team(team_head, part.data(), part.size(), sizeof(T), sizeof(R), chunksize,
                                   std::nullopt, true, continuing);
        };
        return std::make_unique<imap_feed>(std::move(core), std::move(next_window), 2);
      }
    }
  }
  const std::string& head = task_head(reinterpret_cast<std::uintptr_t>(&map_entry<F, T>), target_address(f));
  auto next_chunk = [source, &head, chunksize](std::string& message, std::size_t& items,
                                               std::shared_ptr<handle_outbox>& outbox) {
    std::vector<T> part = source->template take<T>(chunksize);
    if (part.empty()) return false;
    outbox = encoding_outbox();
    {
      outbox_scope scope(*outbox);
      message = encode_chunk(head, part, *outbox);
    }
    check_encoded(*outbox);
    items = part.size();
    return true;
  };
  return std::make_unique<imap_feed>(std::move(core), std::move(next_chunk), in_pool, in_order, total);
}

}  // namespace mproc::detail
