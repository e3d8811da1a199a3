// SPDX-License-Identifier: Apache-2.0
// What recording metrics costs on the /api/verify path: prometheus-cpp 1.0's Counter (CAS loop
// on one shared double) and Histogram (a mutex per Observe) against the per-thread sharded
// cells server_metrics uses, with one and two threads hitting the same series.
#include <chrono>
#include <vector>

#include <benchmark/benchmark.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "oidc/metrics/server_metrics.hpp"
#include "oidc/metrics/sharded.hpp"

namespace {

using namespace std::chrono_literals;

const std::vector<double> kVerifyBuckets{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                         0.001,   0.0025,   0.005,   0.01,   0.025,   0.05};
const std::vector<double> kHttpBuckets{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                       0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                       0.5,     1.0,    2.5,     5.0,    10.0,  30.0};

struct prom_fixture {
  prometheus::Registry registry;
  prometheus::Counter& counter =
      prometheus::BuildCounter().Name("c_total").Register(registry).Add({});
  prometheus::Counter& counter2 =
      prometheus::BuildCounter().Name("c2_total").Register(registry).Add({});
  prometheus::Gauge& gauge = prometheus::BuildGauge().Name("g").Register(registry).Add({});
  prometheus::Histogram& verify =
      prometheus::BuildHistogram().Name("v").Register(registry).Add({}, kVerifyBuckets);
  prometheus::Histogram& http =
      prometheus::BuildHistogram().Name("h").Register(registry).Add({}, kHttpBuckets);
};
prom_fixture& prom() {
  static prom_fixture f;
  return f;
}

oidc::metrics::sharded_cells& cells() {
  static oidc::metrics::sharded_cells c(64);
  return c;
}
const oidc::metrics::histogram_layout& verify_layout() {
  static const auto h = oidc::metrics::make_histogram_layout(kVerifyBuckets);
  return h;
}
oidc::metrics::server_metrics& server() {
  static oidc::metrics::server_metrics m;
  return m;
}

void BM_PromCounterIncrement(benchmark::State& state) {
  auto& c = prom().counter;
  for (auto _ : state)
    c.Increment();
}
BENCHMARK(BM_PromCounterIncrement)->Threads(1)->Threads(2)->UseRealTime();

void BM_ShardedCounterAdd(benchmark::State& state) {
  auto& c = cells();
  for (auto _ : state)
    c.add(3);
}
BENCHMARK(BM_ShardedCounterAdd)->Threads(1)->Threads(2)->UseRealTime();

void BM_PromHistogramObserve(benchmark::State& state) {
  auto& h = prom().verify;
  double v = 0.00002;
  for (auto _ : state) {
    h.Observe(v);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_PromHistogramObserve)->Threads(1)->Threads(2)->UseRealTime();

void BM_ShardedHistogramObserve(benchmark::State& state) {
  auto& c = cells();
  const auto& h = verify_layout();
  std::uint64_t ns = 20'000;
  for (auto _ : state) {
    h.observe(c, 16, ns);
    benchmark::DoNotOptimize(ns);
  }
}
BENCHMARK(BM_ShardedHistogramObserve)->Threads(1)->Threads(2)->UseRealTime();

// Everything one /api/verify request records: in-flight +1/-1, the verify decision and its
// duration, the HTTP request and its duration.
void BM_PromVerifyRequest(benchmark::State& state) {
  auto& p = prom();
  double v = 0.00002;
  for (auto _ : state) {
    p.gauge.Increment();
    p.counter.Increment();
    p.verify.Observe(v);
    p.counter2.Increment();
    p.http.Observe(v);
    p.gauge.Decrement();
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_PromVerifyRequest)->Threads(1)->Threads(2)->UseRealTime();

void BM_ServerMetricsVerifyRequest(benchmark::State& state) {
  auto& m = server();
  auto d = std::chrono::nanoseconds(20us);
  for (auto _ : state) {
    m.in_flight_add(1);
    m.verification(oidc::auth_error::ok, d);
    m.http_request(oidc::metrics::route::verify, oidc::metrics::method::get, 200, d);
    m.in_flight_add(-1);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_ServerMetricsVerifyRequest)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
