// SPDX-License-Identifier: Apache-2.0
// process_* metrics from /proc/self, as the Prometheus client libraries define them
// (https://prometheus.io/docs/instrumenting/writing_clientlibs/#process-metrics).
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "families.hpp"
#include "oidc/metrics/collectors.hpp"

namespace oidc::metrics {

using prometheus::MetricType;
using namespace detail;

namespace {

std::optional<std::string> read_small_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct proc_stat {
  double utime_ticks = 0;
  double stime_ticks = 0;
  double start_ticks = 0;  // since boot
  double vsize_bytes = 0;
  double rss_pages = 0;
};

// /proc/self/stat: the second field (comm) is in parentheses and may contain spaces, so fields
// are counted from the last ')'. proc(5): utime 14, stime 15, starttime 22, vsize 23, rss 24.
std::optional<proc_stat> read_proc_stat() {
  const auto text = read_small_file("/proc/self/stat");
  if (!text) return std::nullopt;
  const auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(text->substr(close + 2));
  std::string field;
  proc_stat s;
  for (int i = 3; in >> field; ++i) {
    const double v = std::strtod(field.c_str(), nullptr);
    switch (i) {
      case 14:
        s.utime_ticks = v;
        break;
      case 15:
        s.stime_ticks = v;
        break;
      case 22:
        s.start_ticks = v;
        break;
      case 23:
        s.vsize_bytes = v;
        break;
      case 24:
        s.rss_pages = v;
        return s;
      default:
        break;
    }
  }
  return std::nullopt;
}

// "btime" of /proc/stat: boot time in Unix seconds.
std::optional<double> boot_time() {
  const auto text = read_small_file("/proc/stat");
  if (!text) return std::nullopt;
  const auto at = text->find("\nbtime ");
  if (at == std::string::npos) return std::nullopt;
  return std::strtod(text->c_str() + at + 7, nullptr);
}

void push_value(std::vector<prometheus::MetricFamily>& out, const char* name, const char* help,
                MetricType type, double v) {
  auto f = make_family(name, help, type);
  add_sample(f, {}, v);
  out.push_back(std::move(f));
}

}  // namespace

std::vector<prometheus::MetricFamily> process_collector::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  if (const auto s = read_proc_stat(); s && ticks > 0) {
    push_value(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
               MetricType::Counter, (s->utime_ticks + s->stime_ticks) / ticks);
    push_value(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
               MetricType::Gauge, s->rss_pages * page);
    push_value(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
               MetricType::Gauge, s->vsize_bytes);
    if (const auto bt = boot_time()) {
      push_value(out, "process_start_time_seconds",
                 "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
                 *bt + s->start_ticks / ticks);
    }
  }
  std::error_code ec;
  std::size_t fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++fds;
  }
  if (!ec) {
    // The iterator's own descriptor is counted too; so do the other client libraries.
    push_value(out, "process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
               static_cast<double>(fds));
  }
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    push_value(out, "process_max_fds", "Maximum number of open file descriptors.",
               MetricType::Gauge,
               lim.rlim_cur == RLIM_INFINITY ? -1.0 : static_cast<double>(lim.rlim_cur));
  }
  return out;
}

}  // namespace oidc::metrics
