// Compile errors are part of the interface: each misuse in compile_fail/ must
// fail with exactly one error, mproc's own sentence, not a cascade from cereal.
#include "support/scratch.hpp"

#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>

namespace {

mproc::test::command_result compile(const std::string& file) {
  // A stream, not a chain of operator+: with the tests' precompiled header, GCC 12
  // reports its false -Warray-bounds inside <string> for such a chain.
  std::ostringstream command;
  command << MPROC_COMPILE_COMMAND << ' ' << MPROC_COMPILE_FAIL_DIR << '/' << file << " 2>&1";
  return mproc::test::run_command(command.str());
}

int error_lines(const std::string& output) {
  int errors = 0;
  for (const auto& line : mproc::test::lines_of(output)) {
    if (line.find("error:") != std::string::npos) ++errors;
  }
  return errors;
}

void check_refused(const std::string& file, const std::string& sentence) {
  const auto result = compile(file);
  BOOST_TEST(result.exit_code != 0);
  BOOST_TEST(error_lines(result.output) == 1, "one error, not a cascade:\n" << result.output);
  BOOST_TEST(result.output.find(sentence) != std::string::npos, "expected '" << sentence << "' in:\n"
                                                                              << result.output);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(compile_errors)

BOOST_AUTO_TEST_CASE(everyday_types_compile) {
  const auto result = compile("everyday_types_compile.cpp");
  BOOST_TEST(result.exit_code == 0, result.output);
}

BOOST_AUTO_TEST_CASE(a_pool_argument_that_cannot_travel_is_one_sentence) {
  check_refused("pool_argument_without_serialize.cpp", "a pool task's argument must travel to a worker");
}

BOOST_AUTO_TEST_CASE(a_pool_result_that_cannot_travel_is_one_sentence) {
  check_refused("pool_result_without_serialize.cpp", "a pool task's result must travel back from the worker");
}

BOOST_AUTO_TEST_CASE(a_shared_buffer_of_what_cannot_be_shared_is_one_sentence) {
  check_refused("shared_buffer_of_strings.cpp", "a shared_buffer holds a non-const trivially copyable type");
}

BOOST_AUTO_TEST_CASE(an_async_wait_without_an_executor_is_one_sentence) {
  check_refused("async_wait_without_an_executor.cpp", "must be an Asio executor or an io_context");
}

BOOST_AUTO_TEST_CASE(a_target_taking_const_char_pointer_is_one_sentence) {
  check_refused("target_takes_const_char_pointer.cpp", "a string literal travels as std::string");
}

BOOST_AUTO_TEST_CASE(a_subclass_whose_state_would_vanish_does_not_compile) {
  check_refused("subclass_state_without_serialize.cpp", "has data members but no serialize(Archive&)");
}

BOOST_AUTO_TEST_CASE(a_shared_container_of_what_cannot_be_stored_is_one_sentence) {
  check_refused("shared_list_of_unserialisable.cpp", "a shared_list item must be a number, a plain struct or a value");
}

BOOST_AUTO_TEST_SUITE_END()
