// Whether a process id still names a running process: the apps use it to show
// that a child is really gone. (Not part of mproc's API: a process object's
// is_alive() is the way to ask about one's own children.)
#pragma once

bool process_exists(int pid);
