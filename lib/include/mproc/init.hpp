// The program's entry hook. Call it first thing in main():
//
//   int main(int argc, char** argv) {
//     mproc::init(argc, argv);   // in a spawned child: runs the target, never returns
//     ...
//   }
//
// A child started with the spawn (or forkserver) method is this same program run
// again with a marker argument; init() recognises the marker, runs the child's
// target and exits, so the rest of main() only ever runs in the parent.
#pragma once

namespace mproc {

/// Prepares mproc in the main process; in a spawned child, runs the child and
/// exits with its exit code (never returns). Starting a spawn or forkserver
/// process before init() throws mproc::process_error.
void init(int argc, char** argv);

/// True once init() has been called in this process.
bool initialized() noexcept;

}  // namespace mproc
