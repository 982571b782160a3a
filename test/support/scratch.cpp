#include "scratch.hpp"

#include <algorithm>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace mproc::test {

scratch_dir::~scratch_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string scratch_dir::file(std::string_view name) const { return path_ + "/" + std::string(name); }

namespace {

// CTest counts a case that prints this line as skipped (BoostTestDiscover.cmake).
void say_skipped(boost::test_tools::assertion_result& why) {
  std::cout << "mproc-test-skipped: " << why.message().str() << std::endl;
}

}  // namespace

void skip_case(std::string_view reason) {
  boost::test_tools::assertion_result why(false);
  why.message() << reason;
  say_skipped(why);
}

boost::unit_test::precondition method_available(mproc::start_method method) {
  return boost::unit_test::precondition([method](boost::unit_test::test_unit_id) {
    const auto methods = mproc::all_start_methods();
    boost::test_tools::assertion_result available(std::find(methods.begin(), methods.end(), method) != methods.end());
    available.message() << "the start method '" << mproc::to_string(method) << "' does not exist on this platform";
    if (!available) say_skipped(available);
    return available;
  });
}

boost::unit_test::precondition posix_only(const char* reason) {
  return boost::unit_test::precondition([reason](boost::unit_test::test_unit_id) {
    boost::test_tools::assertion_result posix(posix_system);
    posix.message() << "POSIX only: " << reason;
    if (!posix) say_skipped(posix);
    return posix;
  });
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, std::string_view text) {
  // Write to a side file and rename, so that a reader never sees half of it.
  const std::string side = path + ".part";
  {
    std::ofstream out(side);
    out << text;
  }
  std::filesystem::rename(side, path);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool contains_line(const std::string& text, const std::string& line) {
  for (const auto& each : lines_of(text)) {
    if (each == line) return true;
  }
  return false;
}

}  // namespace mproc::test
