// Boost.Test's header-only variant, compiled once (it takes a while) for every
// test program of a build that has no compiled Boost.Test (Windows, vcpkg).
#define BOOST_TEST_NO_MAIN
#include <boost/test/included/unit_test.hpp>
