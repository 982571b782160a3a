// A plain process's progress reports (see progress_channel.hpp).
#include "progress_channel.hpp"

#include "launch.hpp"
#include "output_thread.hpp"

#include <charconv>
#include <iostream>
#include <utility>

namespace mproc::detail {
namespace {

// This process's channel to its parent: set once as the process starts (or
// forks), before any task of its can report.
native_handle channel = no_handle;

bool read_number(std::string_view& text, std::size_t& value) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{}) return false;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return true;
}

}  // namespace

child_progress_channel::child_progress_channel(bool wanted) {
  if (wanted) ends_ = make_record_pipe();
}

child_progress_channel::~child_progress_channel() {
  for (const native_handle end : {ends_.read, ends_.write}) {
    if (end != no_handle) close_handle(end);
  }
}

void child_progress_channel::adopt_in_fork() noexcept {
  // Our parent's channel, inherited: held open here, it would keep our
  // parent's parent waiting for its end at join().
  if (channel != no_handle) close_handle(channel);
  channel = std::exchange(ends_.write, no_handle);
}

std::shared_ptr<line_reader> child_progress_channel::start_reading(progress_callback callback,
                                                                   const std::string& child_name) {
  if (ends_.read == no_handle) return nullptr;
  close_handle(std::exchange(ends_.write, no_handle));
  return line_reader::start(std::exchange(ends_.read, no_handle), 64,
                            [callback = std::move(callback), child_name](std::string_view line) {
                              std::size_t done = 0;
                              std::size_t total = 0;
                              if (!read_number(line, done) || !read_number(line, total)) return;  // not ours
                              try {
                                callback(done, total);
                              } catch (const std::exception& e) {
                                std::cerr << "mproc: the progress callback of " << child_name
                                          << " threw: " << e.what() << std::endl;
                              } catch (...) {
                                std::cerr << "mproc: the progress callback of " << child_name << " threw"
                                          << std::endl;
                              }
                            });
}

void adopt_progress_channel(native_handle taken) noexcept { channel = taken; }

void report_to_parent(std::size_t done, std::size_t total) noexcept {
  if (channel == no_handle) return;
  try {
    (void)write_record(channel, std::to_string(done) + ' ' + std::to_string(total) + '\n');
  } catch (...) {  // a report is advice: the task goes on
  }
}

}  // namespace mproc::detail
