# Cross-compiling mproc for 64-bit Windows with Debian's MinGW-w64 (the POSIX
# thread model: std::thread and std::mutex need it), run under Wine by CTest.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Boost and cereal are header-only for what mproc uses on Windows: the host's
# Debian headers serve (see cmake/MprocDependencies.cmake).
set(MPROC_HOST_HEADERS /usr/include CACHE PATH "Where the host's boost/ and cereal/ headers are")

# Statically linked: the .exe files need no MinGW DLLs next to them.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
# -fno-aggressive-loop-optimizations: at -O2 MinGW miscompiles Interprocess's
# unlink_file() (undefined behaviour on a wchar_t[1] array), see shared notes.
# -Wno-restrict: GCC 12 warns falsely on libstdc++'s string concatenation when
# optimising (GCC bug 105329), which -Werror would make fatal.
set(CMAKE_CXX_FLAGS_INIT "-fno-aggressive-loop-optimizations -Wno-restrict")

# Every test and app runs under Wine, in a prefix of the build's own.
set(CMAKE_CROSSCOMPILING_EMULATOR
    "${CMAKE_CURRENT_LIST_DIR}/../../scripts/wine-run.sh;${CMAKE_BINARY_DIR}/wine-prefix")
