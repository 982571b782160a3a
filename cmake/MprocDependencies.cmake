# Finds mproc's dependencies: Boost (headers; Boost.Test for the suite), cereal,
# spdlog and threads. A Windows cross build from Linux takes the host's header-only
# Boost, cereal, spdlog and {fmt} from MPROC_HOST_HEADERS through a folder that holds only
# them, so that no other host header (glibc's) can be found by the compiler.
if(CMAKE_CROSSCOMPILING AND WIN32 AND MPROC_HOST_HEADERS)
  set(mproc_cross_headers ${PROJECT_BINARY_DIR}/cross-headers)
  file(MAKE_DIRECTORY ${mproc_cross_headers})
  foreach(dir boost cereal spdlog fmt)
    if(NOT EXISTS ${mproc_cross_headers}/${dir})
      file(CREATE_LINK ${MPROC_HOST_HEADERS}/${dir} ${mproc_cross_headers}/${dir} SYMBOLIC)
    endif()
  endforeach()
  add_library(mproc_cross_boost INTERFACE)
  target_include_directories(mproc_cross_boost SYSTEM INTERFACE ${mproc_cross_headers}
                             ${PROJECT_SOURCE_DIR}/cmake/windows-shim)
  add_library(Boost::headers ALIAS mproc_cross_boost)
  add_library(cereal::cereal ALIAS mproc_cross_boost)
  # spdlog and {fmt} header-only: Debian's are built for Linux.
  add_library(mproc_cross_spdlog INTERFACE)
  target_link_libraries(mproc_cross_spdlog INTERFACE mproc_cross_boost)
  target_compile_definitions(mproc_cross_spdlog INTERFACE FMT_HEADER_ONLY)
  add_library(spdlog::spdlog ALIAS mproc_cross_spdlog)
  set(MPROC_HEADER_ONLY_BOOST_TEST ON)
else()
  if(WIN32)
    find_package(Boost 1.81 REQUIRED CONFIG)
  else()
    # stacktrace_backtrace names a lost task's function (posix/function_names.cpp).
    find_package(Boost 1.81 REQUIRED CONFIG COMPONENTS stacktrace_backtrace)
  endif()
  # cereal's CMake package (Debian's libcereal-dev and vcpkg's port both have
  # one): its target carries the include path to mproc's users, installed or not.
  find_package(cereal 1.3 REQUIRED CONFIG)
  # spdlog for mproc::log (Debian's libspdlog-dev, vcpkg's spdlog); it brings {fmt}.
  find_package(spdlog 1.10 REQUIRED CONFIG)
  # vcpkg and MSVC users have no compiled Boost.Test necessarily either.
  option(MPROC_HEADER_ONLY_BOOST_TEST "Use Boost.Test's header-only variant" ${MSVC})
endif()
find_package(Threads REQUIRED)

# MPI for mproc::mpi (optional; the core never needs it): built when found.
# Its C API only (MPI_CXX_SKIP_MPICXX: not the deprecated C++ bindings).
set(MPI_CXX_SKIP_MPICXX ON)
if(NOT CMAKE_CROSSCOMPILING)
  find_package(MPI COMPONENTS CXX QUIET)
endif()
option(MPROC_WITH_MPI "Build mproc::mpi, the pool on MPI ranks" ${MPI_CXX_FOUND})
if(MPROC_WITH_MPI AND NOT MPI_CXX_FOUND)
  message(FATAL_ERROR "MPROC_WITH_MPI is on, but no MPI was found (Debian: libopenmpi-dev openmpi-bin)")
endif()
