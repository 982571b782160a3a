// The CPU-bound worker of the shared-state example.
#pragma once

#include <mproc/shared_containers.hpp>

/// Appends `count` pseudo-random numbers to `out_list`, each after some work.
void do_something(int count, mproc::shared_list<double> out_list);
