// SPDX-License-Identifier: Apache-2.0
#include "log_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "app.hpp"

namespace {

using namespace std::chrono_literals;
using oidc::server::log_writer;

// A pipe whose read end never blocks: what the writer has written so far.
class pipe_reader {
 public:
  pipe_reader() { EXPECT_EQ(::pipe2(fds_, O_NONBLOCK), 0); }
  ~pipe_reader() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  int write_end() const { return fds_[1]; }
  std::string drain() {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fds_[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fds_[2] = {-1, -1};
};

TEST(LogWriter, GathersLinesUntilFlushed) {
  pipe_reader p;
  log_writer w(p.write_end(), 1024);
  w.append("{\"a\":1}\n");
  w.append("{\"a\":2}\n");
  EXPECT_EQ(p.drain(), "");
  w.flush();
  EXPECT_EQ(p.drain(), "{\"a\":1}\n{\"a\":2}\n");
  w.flush();  // nothing new: no write
  EXPECT_EQ(p.drain(), "");
}

TEST(LogWriter, WritesWhenTheBufferFills) {
  pipe_reader p;
  log_writer w(p.write_end(), 20);
  w.append("0123456789\n");  // 11 bytes: held
  EXPECT_EQ(p.drain(), "");
  w.append("abcdefghij\n");  // 22 bytes >= 20: written by this append
  EXPECT_EQ(p.drain(), "0123456789\nabcdefghij\n");
}

TEST(LogWriter, ZeroBufferWritesEveryLineAtOnce) {
  pipe_reader p;
  log_writer w(p.write_end(), 0);
  w.append("one\n");
  EXPECT_EQ(p.drain(), "one\n");
  w.append("two\n");
  EXPECT_EQ(p.drain(), "two\n");
}

TEST(LogWriter, EventsFollowTheLinesGatheredBeforeThem) {
  pipe_reader p;
  log_writer w(p.write_end(), 1 << 16);
  w.append("request 1\n");
  w.write_now("event\n");
  EXPECT_EQ(p.drain(), "request 1\nevent\n");
}

TEST(LogWriter, DestructionFlushes) {
  pipe_reader p;
  {
    log_writer w(p.write_end(), 1 << 16);
    w.append("last words\n");
  }
  EXPECT_EQ(p.drain(), "last words\n");
}

TEST(LogWriter, RefusedWritesAreCountedAndDropped) {
  const int read_only = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(read_only, 0);
  {
    log_writer w(read_only, 0);
    w.append("lost\n");
    EXPECT_EQ(w.dropped_bytes(), 5u);
    w.append("lost too\n");
    EXPECT_EQ(w.dropped_bytes(), 14u);
  }
  ::close(read_only);
}

// Lines appended from several threads come out whole, each thread's in its own order, none lost
// (a small buffer, so appends and flushes race).
TEST(LogWriter, ConcurrentAppendsKeepLinesWholeAndInOrder) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("log_writer_test_" + std::to_string(::getpid()) + ".log");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  constexpr int kThreads = 4;
  constexpr int kLines = 5000;
  {
    log_writer w(fd, 512);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&w, t] {
        for (int i = 0; i < kLines; ++i) {
          const std::string line = "{\"thread\":" + std::to_string(t) +
                                   ",\"line\":" + std::to_string(i) + ",\"pad\":\"" +
                                   std::string(static_cast<std::size_t>(i % 37), 'x') + "\"}\n";
          if (i % 1000 == 999)
            w.write_now(line);
          else
            w.append(line);
        }
      });
    }
    for (auto& t : threads)
      t.join();
  }
  ::close(fd);
  std::ifstream in(path);
  std::vector<int> next(kThreads, 0);
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    int t = -1;
    int i = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "{\"thread\":%d,\"line\":%d,", &t, &i), 2) << line;
    ASSERT_GE(t, 0);
    ASSERT_LT(t, kThreads);
    EXPECT_EQ(i, next[static_cast<std::size_t>(t)]) << "thread " << t << " out of order";
    next[static_cast<std::size_t>(t)] = i + 1;
    const std::string pad(static_cast<std::size_t>(i % 37), 'x');
    EXPECT_NE(line.find("\"pad\":\"" + pad + "\"}"), std::string::npos) << line;
    ++count;
  }
  EXPECT_EQ(count, kThreads * kLines);
  std::filesystem::remove(path);
}

// The periodic flush writes gathered lines without anyone calling flush, and stops on request.
TEST(LogWriter, FlusherWritesPeriodicallyUntilStopped) {
  pipe_reader p;
  log_writer w(p.write_end(), 1 << 16);
  boost::asio::io_context io;
  oidc::server::housekeeping_control control(io.get_executor());
  auto done = boost::asio::co_spawn(
      control.strand, oidc::server::run_log_flusher(&w, &control, 1ms), boost::asio::use_future);
  w.append("periodic\n");
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (seen.empty() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(100ms);
    seen = p.drain();
  }
  EXPECT_EQ(seen, "periodic\n");
  control.stop();
  io.run_for(10s);  // returns once the flusher has ended
  EXPECT_EQ(done.wait_for(0s), std::future_status::ready);
}

}  // namespace
