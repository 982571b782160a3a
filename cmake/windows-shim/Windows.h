// Boost.Process 1.81 includes <Windows.h>; MinGW's header is windows.h, and
// case matters on a Linux host that cross-compiles.
#pragma once
#include <windows.h>
