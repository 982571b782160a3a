// The process class: life cycle, exit codes, names, daemons, subclasses, usage
// errors; each under every start method.
#include "support/scratch.hpp"

#include <mproc/process.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <map>
#include <sstream>
#include <thread>


using namespace std::chrono_literals;
using mproc::test::read_file;
using mproc::test::write_file;

using mproc::test::with;

namespace {

mproc::process_options with(mproc::start_method method, std::string name) {
  mproc::process_options options;
  options.method = method;
  options.name = std::move(name);
  return options;
}

void return_at_once() {}
void exit_seven() { std::exit(7); }
void throw_runtime_error() { throw std::runtime_error("the target failed on purpose"); }
void sleep_seconds(int seconds) { std::this_thread::sleep_for(std::chrono::seconds(seconds)); }

void write_arguments(std::string path, int number, std::string text, std::vector<int> list,
                     std::map<std::string, double> table) {
  std::ostringstream out;
  out << number << '|' << text << '|';
  for (int each : list) out << each << ',';
  out << '|';
  for (const auto& [key, value] : table) out << key << '=' << value << ',';
  write_file(path, out.str());
}

void write_identity(std::string path) {
  const auto self = mproc::current_process();
  const auto parent = mproc::parent_process();
  mproc::process grandchild(return_at_once);
  std::ostringstream out;
  out << self.name << '\n'
      << (self.pid == mproc::test::this_pid()) << '\n'
      << (parent ? parent->name : "none") << '\n'
      << (parent ? parent->pid : 0) << '\n'
      << grandchild.name() << '\n'
      << self.daemon << '\n';
  write_file(path, out.str());
}

void try_to_start_a_child(std::string path) {
  mproc::process child(return_at_once);
  try {
    child.start();
    child.join();
    write_file(path, "started");
  } catch (const mproc::process_error& e) {
    write_file(path, e.what());
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(exit_codes)

MPROC_TEST_EACH_METHOD(return_gives_zero) {
  mproc::process p(with(method), return_at_once);
  p.start();
  p.join();
  BOOST_TEST(p.exitcode().value() == 0);
}

MPROC_TEST_EACH_METHOD(exit_gives_its_value) {
  mproc::process p(with(method), exit_seven);
  p.start();
  p.join();
  BOOST_TEST(p.exitcode().value() == 7);
}

MPROC_TEST_EACH_METHOD(exception_gives_one_and_its_text_on_stderr) {
  mproc::test::stream_capture capture(2);
  mproc::process p(with(method, "thrower"), throw_runtime_error);
  p.start();
  p.join();
  const std::string text = capture.text();
  BOOST_TEST(p.exitcode().value() == 1);
  BOOST_TEST(mproc::test::contains_line(text, "Process thrower:"), text);
  BOOST_TEST(mproc::test::contains_line(text, "std::runtime_error: the target failed on purpose"), text);
}

MPROC_TEST_EACH_METHOD(terminate_gives_minus_15) {
  mproc::process p(with(method), sleep_seconds, 30);
  p.start();
  BOOST_TEST(p.is_alive());
  p.terminate();
  p.join();
  BOOST_TEST(p.exitcode().value() == -15);
  BOOST_TEST(!p.is_alive());
}

MPROC_TEST_EACH_METHOD(kill_gives_minus_9) {
  mproc::process p(with(method), sleep_seconds, 30);
  p.start();
  p.kill();
  p.join();
  BOOST_TEST(p.exitcode().value() == -9);
}

MPROC_TEST_EACH_METHOD(hundred_short_processes_exit_zero) {
  std::vector<mproc::process> all;
  for (int i = 0; i < 100; ++i) all.emplace_back(with(method), return_at_once);
  for (auto& p : all) p.start();
  for (auto& p : all) p.join();
  int zeros = 0;
  for (auto& p : all) zeros += p.exitcode() == 0 ? 1 : 0;
  BOOST_TEST(zeros == 100);
}

MPROC_TEST_EACH_METHOD(hundred_terminated_at_once_report_minus_15) {
  std::vector<mproc::process> all;
  for (int i = 0; i < 100; ++i) all.emplace_back(with(method), sleep_seconds, 30);
  for (auto& p : all) {
    p.start();
    p.terminate();
  }
  int terminated = 0;
  for (auto& p : all) {
    p.join();
    terminated += p.exitcode() == -15 ? 1 : 0;
  }
  BOOST_TEST(terminated == 100);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(life_cycle)

MPROC_TEST_EACH_METHOD(join_with_timeout_waits_at_least_its_time) {
  mproc::process p(with(method), sleep_seconds, 30);
  p.start();
  const auto begin = std::chrono::steady_clock::now();
  BOOST_TEST(!p.join(200ms));
  BOOST_TEST((std::chrono::steady_clock::now() - begin >= 200ms));
  BOOST_TEST(p.is_alive());
  BOOST_TEST(!p.exitcode().has_value());
  p.terminate();
  BOOST_TEST(p.join(10s));
}

MPROC_TEST_EACH_METHOD(arguments_reach_the_child) {
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("arguments");
  mproc::process p(with(method), write_arguments, path, 42, std::string("text with spaces"),
                   std::vector<int>{1, 2, 3}, std::map<std::string, double>{{"pi", 3.5}, {"e", 2.5}});
  p.start();
  p.join();
  BOOST_TEST(p.exitcode().value() == 0);
  BOOST_TEST(read_file(path) == "42|text with spaces|1,2,3,|e=2.5,pi=3.5,");
}

MPROC_TEST_EACH_METHOD(captureless_lambda_is_a_target) {
  mproc::process p(with(method), [](int code) { std::exit(code); }, 12);
  p.start();
  p.join();
  BOOST_TEST(p.exitcode().value() == 12);
}

MPROC_TEST_EACH_METHOD(names_identity_and_parent_in_the_child) {
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("identity");
  mproc::process p(with(method), write_identity, path);
  const std::string default_name = p.name();
  BOOST_TEST(default_name.starts_with("Process-"));
  p.start();
  p.join();
  const auto lines = mproc::test::lines_of(read_file(path));
  BOOST_REQUIRE(lines.size() == 6u);
  BOOST_TEST(lines[0] == default_name);
  BOOST_TEST(lines[1] == "1");                       // current_process().pid is its own pid
  BOOST_TEST(lines[2] == "MainProcess");
  BOOST_TEST(lines[3] == std::to_string(::getpid()));
  BOOST_TEST(lines[4] == default_name + ":1");       // the child's own first child
  BOOST_TEST(lines[5] == "0");
}

MPROC_TEST_EACH_METHOD(daemon_cannot_have_children) {
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("result");
  mproc::process p(with(method), try_to_start_a_child, path);
  p.set_daemon(true);
  p.start();
  p.join();
  BOOST_TEST(read_file(path).find("daemonic processes are not allowed to have children") != std::string::npos,
             read_file(path));
}

MPROC_TEST_EACH_METHOD(non_daemon_child_can_have_children) {
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("result");
  mproc::process p(with(method), try_to_start_a_child, path);
  p.start();
  p.join();
  BOOST_TEST(read_file(path) == "started");
}

BOOST_AUTO_TEST_CASE(main_process_and_names) {
  BOOST_TEST(mproc::current_process().name == "MainProcess");
  BOOST_TEST(mproc::current_process().pid == ::getpid());
  BOOST_TEST(!mproc::parent_process().has_value());
  mproc::process first(return_at_once);
  mproc::process second(return_at_once);
  const int n = std::stoi(first.name().substr(std::string("Process-").size()));
  BOOST_TEST(second.name() == "Process-" + std::to_string(n + 1));
  mproc::process named(mproc::process_options{.name = "my_func process"}, return_at_once);
  BOOST_TEST(named.name() == "my_func process");
  named.set_name("renamed");
  BOOST_TEST(named.name() == "renamed");
  BOOST_TEST(mproc::cpu_count() >= 1u);
}

BOOST_AUTO_TEST_CASE(active_children_lists_running_children) {
  mproc::process p(mproc::process_options{.name = "sleeper"}, sleep_seconds, 30);
  p.start();
  const auto running = mproc::active_children();
  BOOST_TEST_REQUIRE(running.size() == 1u);
  BOOST_TEST(running[0].name == "sleeper");
  BOOST_TEST(running[0].pid == p.pid());
  p.terminate();
  p.join();
  BOOST_TEST(mproc::active_children().empty());
}

BOOST_AUTO_TEST_CASE(description_follows_the_life_cycle) {
  mproc::process p(mproc::process_options{.name = "described"}, sleep_seconds, 30);
  auto text = [&] {
    std::ostringstream out;
    out << p;
    return out.str();
  };
  BOOST_TEST(text() == "<process name='described' initial>");
  p.start();
  BOOST_TEST(text() == "<process name='described' pid=" + std::to_string(p.pid()) + " started>");
  p.terminate();
  p.join();
  BOOST_TEST(text() == "<process name='described' pid=" + std::to_string(p.pid()) + " stopped[signal 15]>");
  p.close();
  BOOST_TEST(text() == "<process name='described' closed>");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(usage_errors)

BOOST_AUTO_TEST_CASE(each_misuse_is_a_clear_process_error) {
  auto says = [](const std::string& words) {
    return [words](const mproc::process_error& e) {
      const bool ok = std::string(e.what()).find(words) != std::string::npos;
      if (!ok) BOOST_TEST_MESSAGE("message was: " << e.what());
      return ok;
    };
  };
  mproc::process p(sleep_seconds, 30);
  BOOST_CHECK_EXCEPTION(p.join(), mproc::process_error, says("can only join a started process"));
  p.start();
  BOOST_CHECK_EXCEPTION(p.start(), mproc::process_error, says("processes can only be started once"));
  BOOST_CHECK_EXCEPTION(p.set_daemon(true), mproc::process_error, says("cannot be changed after start"));
  BOOST_CHECK_EXCEPTION(p.close(), mproc::process_error, says("still running"));
  p.kill();
  p.join();
  p.close();
  BOOST_CHECK_EXCEPTION(p.start(), mproc::process_error, says("closed"));
  BOOST_CHECK_EXCEPTION(p.join(), mproc::process_error, says("closed"));
  BOOST_CHECK_EXCEPTION(p.is_alive(), mproc::process_error, says("closed"));
  BOOST_CHECK_EXCEPTION(mproc::set_start_method(static_cast<mproc::start_method>(9)), mproc::process_error,
                        says("not supported"));
}

BOOST_AUTO_TEST_CASE(capturing_lambda_is_refused_under_spawn) {
  const int code = 21;
  mproc::process spawned(mproc::process_options{.method = mproc::start_method::spawn},
                         [code] { std::exit(code); });
  BOOST_CHECK_EXCEPTION(spawned.start(), mproc::process_error, [](const mproc::process_error& e) {
    return std::string(e.what()).find("plain functions and captureless lambdas") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(capturing_lambda_runs_under_fork,
                     *mproc::test::method_available(mproc::start_method::fork)) {
  const int code = 21;
  mproc::process forked(mproc::process_options{.method = mproc::start_method::fork}, [code] { std::exit(code); });
  forked.start();
  forked.join();
  BOOST_TEST(forked.exitcode().value() == 21);
}

struct not_serialisable {  // not trivially copyable (a plain struct would travel as bytes), no serialize()
  std::string text = "three";
};

void take_not_serialisable(not_serialisable) {}

BOOST_AUTO_TEST_CASE(argument_that_cannot_travel_is_named) {
  mproc::process p(mproc::process_options{.method = mproc::start_method::forkserver}, take_not_serialisable,
                   not_serialisable{});
  BOOST_CHECK_EXCEPTION(p.start(), mproc::process_error, [](const mproc::process_error& e) {
    return std::string(e.what()).find("not_serialisable cannot be serialised") != std::string::npos;
  });
}

BOOST_AUTO_TEST_SUITE_END()

// ---- subclasses ----

namespace {

class my_process : public mproc::process {
 public:
  my_process() = default;
  my_process(std::string path, int number) : path_(std::move(path)), number_(number) {}

  template <class Archive>
  void serialize(Archive& archive) {
    archive(path_, number_);
  }

 protected:
  void run() override {
    write_file(path_, "called run method by " + name() + " number " + std::to_string(number_));
  }

 private:
  std::string path_;
  int number_ = 0;
};

class unregistered_process : public mproc::process {
 protected:
  void run() override { std::exit(5); }
};

}  // namespace

MPROC_REGISTER_PROCESS(my_process);

BOOST_AUTO_TEST_SUITE(subclasses)

MPROC_TEST_EACH_METHOD(run_override_runs_with_its_state) {
  mproc::test::scratch_dir dir;
  const std::string path = dir.file("run");
  my_process p(path, 17);
  p.set_name("my_process-1");
  mproc::set_start_method(method);
  p.start();
  p.join();
  BOOST_TEST(p.exitcode().value() == 0);
  BOOST_TEST(read_file(path) == "called run method by my_process-1 number 17");
}

BOOST_AUTO_TEST_CASE(unregistered_subclass_is_a_clear_error_under_spawn) {
  unregistered_process p;
  BOOST_CHECK_EXCEPTION(p.start(), mproc::process_error, [](const mproc::process_error& e) {
    return std::string(e.what()).find("MPROC_REGISTER_PROCESS") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(unregistered_subclass_runs_under_fork,
                     *mproc::test::method_available(mproc::start_method::fork)) {
  mproc::set_start_method(mproc::start_method::fork);
  unregistered_process forked;
  forked.start();
  forked.join();
  BOOST_TEST(forked.exitcode().value() == 5);
}

BOOST_AUTO_TEST_SUITE_END()
