// Everything in mproc.
#pragma once

#include <mproc/context.hpp>
#include <mproc/error.hpp>
#include <mproc/futures.hpp>
#include <mproc/init.hpp>
#include <mproc/log.hpp>
#include <mproc/output.hpp>
#include <mproc/pipe.hpp>
#include <mproc/pool.hpp>
#include <mproc/queue.hpp>
#include <mproc/process.hpp>
#include <mproc/shared.hpp>
#include <mproc/shared_buffer.hpp>
#include <mproc/shared_containers.hpp>
#include <mproc/shared_memory.hpp>
#include <mproc/start_method.hpp>
#include <mproc/sync.hpp>
#include <mproc/this_task.hpp>
#include <mproc/wait.hpp>
