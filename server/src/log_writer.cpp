// SPDX-License-Identifier: Apache-2.0
#include "log_writer.hpp"

#include <unistd.h>

#include <cerrno>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app.hpp"

namespace oidc::server {

log_writer::log_writer(int fd, std::size_t buffer_bytes) : fd_(fd), limit_(buffer_bytes) {
  buffer_.reserve(limit_ + 512);
  out_.reserve(limit_ + 512);
}

log_writer::~log_writer() {
  flush();
}

void log_writer::append(std::string_view line) {
  bool full = false;
  {
    std::lock_guard lock(buffer_mutex_);
    buffer_.append(line);
    full = buffer_.size() >= limit_;
  }
  if (full) flush();
}

void log_writer::write_now(std::string_view line) {
  {
    std::lock_guard lock(buffer_mutex_);
    buffer_.append(line);
  }
  flush();
}

void log_writer::flush() {
  std::lock_guard write_lock(write_mutex_);
  {
    std::lock_guard lock(buffer_mutex_);
    if (buffer_.empty()) return;
    out_.swap(buffer_);
  }
  write_out(out_);
  out_.clear();
}

void log_writer::write_out(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      dropped_.fetch_add(bytes.size(), std::memory_order_relaxed);
      return;
    }
  }
}

boost::asio::awaitable<void> run_log_flusher(log_writer* writer, housekeeping_control* control,
                                             std::chrono::milliseconds interval) {
  while (!control->stopped.load()) {
    control->timer().expires_after(interval);
    auto wait = control->timer().async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    auto [ec] = co_await std::move(wait);
    if (ec || control->stopped.load()) co_return;
    writer->flush();
  }
}

}  // namespace oidc::server
