// Shared containers: a list, a dict, a set and a namespace that several
// processes read and change, as Python's Manager() gives, in shared memory.
#pragma once

#include <mproc/shared_dict.hpp>
#include <mproc/shared_list.hpp>
#include <mproc/shared_namespace.hpp>
#include <mproc/shared_set.hpp>
