// A short tour: create, start and join; pass arguments; read exit codes; names.
#include <mproc/mproc.hpp>

#include <cstdlib>
#include <iostream>
#include <vector>

void greet(std::string who, int times) {
  for (int i = 0; i < times; ++i) std::cout << "hello " << who << " from " << mproc::current_process().name << std::endl;
}

void exit_with_square(int x) { std::exit(x * x); }

void fail() { throw std::runtime_error("something went wrong"); }

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  std::cout << "1. create, start, join, with arguments" << std::endl;
  mproc::process hello(greet, std::string("world"), 2);
  hello.start();
  hello.join();

  std::cout << "2. exit codes" << std::endl;
  mproc::process squared(exit_with_square, 7);
  mproc::process failing(mproc::process_options{.name = "failing"}, fail);
  squared.start();
  failing.start();
  squared.join();
  failing.join();
  std::cout << "exit code of exit_with_square(7): " << squared.exitcode().value() << std::endl;
  std::cout << "exit code of a target that throws: " << failing.exitcode().value() << std::endl;

  std::cout << "3. names" << std::endl;
  std::cout << "this is " << mproc::current_process().name << std::endl;
  std::vector<mproc::process> team;
  for (const char* name : {"alpha", "beta"}) team.emplace_back(mproc::process_options{.name = name}, greet, std::string("team"), 1);
  for (auto& p : team) p.start();
  for (auto& p : team) p.join();
  std::cout << "done: " << team.size() + 3 << " processes, all joined" << std::endl;
}
