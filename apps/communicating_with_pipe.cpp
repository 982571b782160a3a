// Communicating with pipes: create_items sends 0..9 down the first pipe,
// multiply_items squares each into the second, and the main program prints the
// squares until recv() reports end of file: "End". Then a duplex pipe, on
// which parent and child talk both ways.
#include <mproc/mproc.hpp>

#include <iostream>
#include <string>
#include <utility>

using pipe_ends = std::pair<mproc::connection, mproc::connection>;

void create_items(pipe_ends pipe) {
  auto& [output_pipe, unused] = pipe;
  for (int item = 0; item < 10; ++item) output_pipe.send(item);
  output_pipe.close();
}

void multiply_items(pipe_ends pipe_1, pipe_ends pipe_2) {
  auto& [close, input_pipe] = pipe_1;
  close.close();
  auto& [output_pipe, unused] = pipe_2;
  try {
    for (;;) {
      const int item = input_pipe.recv<int>();
      output_pipe.send(item * item);
    }
  } catch (const mproc::eof_error&) {
    output_pipe.close();
  }
}

void answer_questions(mproc::connection end) {
  const auto question = end.recv<std::string>();
  end.send("child heard '" + question + "' and answers 42");
  end.send(42);
}

int main(int argc, char** argv) {
  mproc::init(argc, argv);
  // A pair of connections travels like any value: each child gets its own copies.
  pipe_ends pipe_1 = mproc::pipe(true);
  mproc::process process_pipe_1(create_items, pipe_1);
  process_pipe_1.start();
  pipe_ends pipe_2 = mproc::pipe(true);
  mproc::process process_pipe_2(multiply_items, pipe_1, pipe_2);
  process_pipe_2.start();
  pipe_1.first.close();
  pipe_2.first.close();
  try {
    for (;;) std::cout << pipe_2.second.recv<int>() << std::endl;
  } catch (const mproc::eof_error&) {
    std::cout << "End" << std::endl;
  }
  process_pipe_1.join();
  process_pipe_2.join();

  std::cout << "duplex pipe:" << std::endl;
  auto [parent_end, child_end] = mproc::pipe();
  mproc::process child(answer_questions, child_end);
  child.start();
  parent_end.send(std::string("what is six times seven?"));
  std::cout << parent_end.recv<std::string>() << std::endl;
  std::cout << "and as a number: " << parent_end.recv<int>() << std::endl;
  child.join();
}
