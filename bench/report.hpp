// Collects benchmark figures; prints them as a table or as one JSON object.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace bench {

struct figure {
  std::string name;
  double value;
  std::string unit;
  std::string note;
};

class report {
 public:
  void add(std::string name, double value, std::string unit, std::string note = {});
  /// Adds numerator/denominator as a ratio, if both figures are present.
  void add_ratio(const std::string& name, const std::string& numerator, const std::string& denominator,
                 std::string note = {});
  const figure* find(const std::string& name) const;
  void print(bool json) const;

 private:
  std::vector<figure> figures_;
};

/// What every benchmark program takes: [--json] [--rounds N].
struct options {
  bool json = false;
  int rounds = 0;
};
options parse_options(int argc, char** argv, int default_rounds);

/// One thing timed round-robin with others (measure_interleaved).
struct subject {
  std::string name;
  std::string note;
  std::function<void()> once;
  std::vector<double> samples_us;
};
/// Times each subject once per round, `rounds` times, after one warm-up call
/// each: all of them see the same machine (this one's speed drifts by 30%
/// from minute to minute).
void measure_interleaved(std::vector<subject>& subjects, int rounds);

/// The median of `samples` (which it sorts).
double median(std::vector<double>& samples);

/// Runs `command` and returns what it printed on stdout; empty if it failed.
std::string capture(const std::string& command);

/// Reads a flat JSON object of numbers {"a": 1.5, ...} as printed by our Python scripts.
std::vector<std::pair<std::string, double>> parse_flat_json(const std::string& text);

}  // namespace bench
