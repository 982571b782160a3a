// The target of the spawning examples, in a translation unit of its own: a
// spawned child finds it with no registration (see docs/design.md).
#pragma once

/// Prints "calling my_func from process n°: i", then "output from my_func is: j"
/// for j in 0..i-1.
void my_func(int i);
