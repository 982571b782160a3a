#include "report.hpp"

#include <chrono>

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <regex>
#include <sstream>

#include <sys/wait.h>

namespace bench {

void report::add(std::string name, double value, std::string unit, std::string note) {
  figures_.push_back({std::move(name), value, std::move(unit), std::move(note)});
}

const figure* report::find(const std::string& name) const {
  for (const auto& f : figures_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

void report::add_ratio(const std::string& name, const std::string& numerator, const std::string& denominator,
                       std::string note) {
  const figure* top = find(numerator);
  const figure* bottom = find(denominator);
  if (top != nullptr && bottom != nullptr && bottom->value > 0) {
    add(name, top->value / bottom->value, "ratio", std::move(note));
  }
}

void report::print(bool json) const {
  if (json) {
    std::cout << "{";
    for (std::size_t i = 0; i < figures_.size(); ++i) {
      const auto& f = figures_[i];
      std::cout << (i ? ", " : "") << "\"" << f.name << "\": {\"value\": " << std::setprecision(6) << f.value
                << ", \"unit\": \"" << f.unit << "\"}";
    }
    std::cout << "}" << std::endl;
    return;
  }
  std::cout << std::left << std::setw(36) << "figure" << std::right << std::setw(14) << "value" << "  "
            << std::left << std::setw(8) << "unit" << "note\n";
  for (const auto& f : figures_) {
    std::cout << std::left << std::setw(36) << f.name << std::right << std::setw(14) << std::fixed
              << std::setprecision(f.unit == "ratio" ? 2 : f.value > 0 && f.value < 1 ? 3 : 1) << f.value << "  " << std::left << std::setw(8)
              << f.unit << f.note << "\n";
  }
  std::cout.flush();
}

options parse_options(int argc, char** argv, int default_rounds) {
  options chosen{false, default_rounds};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") chosen.json = true;
    if (arg == "--rounds" && i + 1 < argc) chosen.rounds = std::stoi(argv[++i]);
  }
  return chosen;
}

double median(std::vector<double>& samples) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

std::string capture(const std::string& command) {
  std::fflush(nullptr);
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string out;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? out : std::string();
}

std::vector<std::pair<std::string, double>> parse_flat_json(const std::string& text) {
  std::vector<std::pair<std::string, double>> values;
  const std::regex entry("\"([^\"]+)\"\\s*:\\s*([-0-9.eE+]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), entry); it != std::sregex_iterator(); ++it) {
    values.emplace_back((*it)[1], std::stod((*it)[2]));
  }
  return values;
}

void measure_interleaved(std::vector<subject>& subjects, int rounds) {
  for (auto& s : subjects) s.once();  // warm-up: first use starts threads and servers
  for (int i = 0; i < rounds; ++i) {
    for (auto& s : subjects) {
      const auto begin = std::chrono::steady_clock::now();
      s.once();
      s.samples_us.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - begin).count());
    }
  }
}

}  // namespace bench
