// SPDX-License-Identifier: Apache-2.0
// A one-shot gate for concurrency tests: threads wait() until the test open()s it, with no sleep
// that could race.
#pragma once

#include <condition_variable>
#include <mutex>

namespace oidc::test {

class gate {
 public:
  void open() {
    std::lock_guard lock(m_);
    open_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(m_);
    cv_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace oidc::test
