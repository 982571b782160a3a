// A pool task's result that cannot travel back.
#include <mproc/pool.hpp>
#include <string>
#include <vector>
struct record {
  std::string name;
};
record make_record(int) { return {"x"}; }
int main() {
  mproc::pool workers(1);
  std::vector<int> inputs{1, 2};
  return static_cast<int>(workers.map(make_record, inputs).size());
}
