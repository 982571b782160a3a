// The thread that starts every child.
//
// Linux sends a child's PR_SET_PDEATHSIG signal when the *thread* that forked it
// ends, not when the parent process ends. Children started from a short-lived
// worker thread would be killed with it; so every fork happens on a thread that
// lives as long as the process: the main thread itself when it is the caller
// (no hand-off, which matters for start latency), else a launcher thread.
#pragma once

#include <functional>

namespace mproc::detail::posix {

/// Runs `job` on a thread that lasts as long as the process, and waits for it;
/// rethrows its exception.
void run_on_launcher_thread(const std::function<void()>& job);

/// Binds what set_death_signal() calls, in the parent, before it forks.
void prepare_death_signal() noexcept;

/// Asks for `signal` when the parent (the launcher thread) ends; to be called in
/// a new child, before anything else. Ends the child at once if the parent is
/// already gone.
void set_death_signal(int signal, int parent_pid) noexcept;

}  // namespace mproc::detail::posix
