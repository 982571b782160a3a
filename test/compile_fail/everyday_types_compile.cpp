// The control: everyday arguments and results compile (so the refusals next to
// this file are refused for what they show, not for a broken command).
#include <mproc/pool.hpp>
#include <mproc/process.hpp>
#include <map>
#include <string>
#include <vector>
struct point {
  double x, y;
};
void greet(std::string) {}
point moved(point p) { return {p.x + 1, p.y}; }
std::map<std::string, int> counts(int) { return {}; }
int main() {
  mproc::process p(greet, "world");
  mproc::pool workers(1);
  std::vector<point> points{{1, 2}};
  workers.map(moved, points);
  return static_cast<int>(workers.apply(counts, 1).size());
}
