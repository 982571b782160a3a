// A pool task's argument that cannot travel: mproc's sentence, not cereal's cascade.
#include <mproc/pool.hpp>
#include <string>
struct record {
  std::string name;  // not trivially copyable, and no serialize()
};
int size_of(record r) { return static_cast<int>(r.name.size()); }
int main() {
  mproc::pool workers(1);
  return workers.apply(size_of, record{"x"});
}
