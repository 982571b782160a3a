// A registered subclass with data members and no serialize(): its state would
// vanish in a spawned child, so it does not compile.
#include <mproc/process.hpp>
class counter : public mproc::process {
 public:
  counter() = default;
  explicit counter(int limit) : limit_(limit) {}

 protected:
  void run() override {}

 private:
  int limit_ = 0;
};
MPROC_REGISTER_PROCESS(counter);
int main() { counter(10).start(); }
