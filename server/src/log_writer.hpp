// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

namespace oidc::server {

struct housekeeping_control;

// The server's JSON log lines (access log and events) on one file descriptor, stderr in the
// server. Access-log lines gather in memory and leave in one write(2) per flush instead of one
// unbuffered stderr write per request under stdio's lock, which both I/O threads contend for
// (docs/benchmarks.md). Events are written at once, after the
// lines gathered before them. Lines stay whole and in the order their append finished. The
// buffer is bounded: an append that fills it writes it out on the calling thread, so a slow log
// reader slows requests instead of growing memory.
class log_writer {
 public:
  // buffer_bytes 0 writes every line at once.
  log_writer(int fd, std::size_t buffer_bytes);
  ~log_writer();  // flushes
  log_writer(const log_writer&) = delete;
  log_writer& operator=(const log_writer&) = delete;

  // One complete line, ending in '\n'.
  void append(std::string_view line);
  // An event line: everything gathered so far, then this line, written now.
  void write_now(std::string_view line);
  void flush();

  // Bytes the descriptor refused (closed pipe, full disk): dropped, never retried.
  std::uint64_t dropped_bytes() const noexcept { return dropped_.load(std::memory_order_relaxed); }

 private:
  void write_out(std::string_view bytes);  // under write_mutex_

  int fd_;
  std::size_t limit_;
  std::mutex buffer_mutex_;  // held for a copy only
  std::string buffer_;
  std::mutex write_mutex_;  // one flush at a time, so batches leave in order
  std::string out_;         // the batch being written; trades capacity with buffer_
  std::atomic<std::uint64_t> dropped_{0};
};

// Flushes `writer` every `interval` (logging.access_log_flush_interval) until control->stop().
boost::asio::awaitable<void> run_log_flusher(log_writer* writer, housekeeping_control* control,
                                             std::chrono::milliseconds interval);

}  // namespace oidc::server
