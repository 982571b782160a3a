// What the operating system says of a process, for the apps that show it (not
// part of mproc's API: a process object's is_alive() is the way to ask about
// one's own children).
#pragma once

/// True while a process with this pid runs (a zombie, on POSIX, does not).
bool process_exists(int pid);

/// The pid of this process's parent as the operating system sees it.
int os_parent_pid();

/// Ends this process at once, as SIGKILL does (on Windows, with the exit code
/// mproc reads as -9).
[[noreturn]] void kill_this_process();
