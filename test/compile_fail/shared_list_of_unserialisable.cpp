// A shared container of a type that cannot be stored: mproc's sentence, not cereal's cascade.
#include <mproc/shared_containers.hpp>
#include <string>
struct record {
  std::string name;  // not trivially copyable, and no serialize()
};
int main() {
  mproc::shared_list<record> records;
  records.append(record{"x"});
  return static_cast<int>(records.snapshot().size());
}
