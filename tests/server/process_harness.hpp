// SPDX-License-Identifier: Apache-2.0
// Shared by the tests that run the real oidc-callback-server binary: the process with its stderr
// collected, raw loopback HTTP helpers, and the mock Entra tenant served over TLS in the test
// process (test CA).
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "identity_provider.hpp"
#include "oidc/net/http_client.hpp"
#include "oidc/net/http_server.hpp"
#include "oidc/random.hpp"
#include "oidc/session_token.hpp"
#include "support/test_pki.hpp"

namespace oidc::test::process {

namespace asio = boost::asio;
namespace net = oidc::net;
namespace http = net::http;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

inline const std::filesystem::path kBinary =
    std::filesystem::path(OIDC_BINARY_DIR) / "oidc-callback-server";
constexpr std::string_view kTenant = "3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70";
constexpr std::string_view kClient = "b7e4d2a1-5c3f-4a9e-8d6b-1f0e9c2a7d35";
constexpr std::string_view kRedirect = "http://localhost:8080/api/single-sign-on";

// A development-mode configuration in `dir` (which holds session.pem and cookie.key, see
// write_dev_secrets) on a plain loopback listener with port 0; `timeouts` is the body of the
// timeouts object, `extra` more top-level members (each followed by a comma).
inline void write_dev_secrets(const std::filesystem::path& dir) {
  std::ofstream(dir / "session.pem") << oidc::generate_ec_p256_private_key_pem().value();
  std::ofstream(dir / "cookie.key")
      << "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
}

inline std::string write_dev_config(const std::filesystem::path& dir, const std::string& timeouts,
                                    const std::string& authority = {},
                                    const std::string& ca_file = {},
                                    const std::string& extra = {}) {
  const auto path = dir / "config.json";
  std::ofstream(path) << R"({
      "server": {"listen": [{"address": "127.0.0.1", "port": 0}], "base_domain": "localhost",
                 "default_organisation": "demo", "cookie_mode": "development"},
      "session": {"issuer": "http://localhost:8080",
                  "signing_keys": [{"private_key_file": ")"
                      << (dir / "session.pem").string() << R"("}]},
      "cookies": {"keys": [{"id": 1, "secret_file": ")"
                      << (dir / "cookie.key").string() << R"("}]},
      "accounts": {"mode": "tenant", "sqlite_path": ")"
                      << (dir / "accounts.db").string() << R"("},)"
                      << (ca_file.empty() ? "" : R"("upstream": {"ca_file": ")" + ca_file + "\"},")
                      << extra << R"("timeouts": {)" << timeouts << R"(},
      "organisations": [{"name": "demo", "tenant_id": ")"
                      << kTenant << R"(", "client_id": ")" << kClient << R"(",)"
                      << (authority.empty() ? "" : R"("authority": ")" + authority + "\",")
                      << R"("redirect_uri": ")" << kRedirect << R"("}]})";
  return path.string();
}

// The server process with its stderr collected by a reader thread.
class server_process {
 public:
  server_process() = default;
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;
  ~server_process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (reader_.joinable()) reader_.join();
  }

  // The reader closes the output pipe once a whole line containing `marker` came (a log shipper
  // that died): call before start().
  void close_output_after(std::string marker) { close_after_ = std::move(marker); }

  bool start(const std::string& config) {
    const std::string bin = kBinary.string();
    int fds[2];
    if (::pipe(fds) != 0) return false;
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      ::dup2(fds[1], STDERR_FILENO);
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    const int fd = fds[0];
    reader_ = std::thread([this, fd] {
      char buf[4096];
      for (;;) {
        const auto n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        std::lock_guard lock(mutex_);
        output_.append(buf, static_cast<std::size_t>(n));
        changed_.notify_all();
        if (!close_after_.empty()) {
          const auto at = output_.find(close_after_);
          if (at != std::string::npos && output_.find('\n', at) != std::string::npos) break;
        }
      }
      ::close(fd);
    });
    return true;
  }

  // The port of the first "listening" event, or 0 when none came within `limit`.
  std::uint16_t wait_for_port(std::chrono::milliseconds limit) {
    return wait_for_listening(limit, R"({"event":"listening")");
  }
  // The port of the admin listener (metrics.admin_listen).
  std::uint16_t wait_for_admin_port(std::chrono::milliseconds limit) {
    return wait_for_listening(limit, R"(,"admin":true})", true);
  }

  // The port of the "listening" line containing `marker` (searched backwards from the marker
  // when `marker_at_end`).
  std::uint16_t wait_for_listening(std::chrono::milliseconds limit, const std::string& marker,
                                   bool marker_at_end = false) {
    std::unique_lock lock(mutex_);
    const std::string key = R"("port":)";
    std::uint16_t port = 0;
    changed_.wait_for(lock, limit, [&] {
      auto at = output_.find(marker);
      if (at == std::string::npos) return false;
      if (marker_at_end) at = output_.rfind(R"({"event":"listening")", at);
      if (at == std::string::npos) return false;
      const auto p = output_.find(key, at);
      // The whole line: the digits may still be on their way.
      if (p == std::string::npos || output_.find('\n', p) == std::string::npos) return false;
      port = static_cast<std::uint16_t>(std::stoi(output_.substr(p + key.size())));
      return true;
    });
    return port;
  }

  // Whether `needle` appears in the output within `limit`.
  bool wait_for_output(std::string_view needle, std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit,
                             [&] { return output_.find(needle) != std::string::npos; });
  }

  // The exit code, or -1 (the process is then killed) when it does not exit within `limit`.
  int wait_exit(std::chrono::milliseconds limit) {
    const auto deadline = steady::now() + limit;
    int status = 0;
    while (steady::now() < deadline) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

  void send_signal(int sig) const { ::kill(pid_, sig); }

  std::string output() {
    std::lock_guard lock(mutex_);
    return output_;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string output_;
  std::string close_after_;
};

inline int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

struct read_result {
  std::string data;
  bool closed = false;  // the server closed the connection (EOF or reset) within the limit
};

// Reads until the peer closes or `limit` passes.
inline read_result read_until_close(int fd, std::chrono::milliseconds limit) {
  read_result r;
  const auto deadline = steady::now() + limit;
  char buf[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (left <= 0ms) return r;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return r;
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      r.closed = true;
      return r;
    }
    r.data.append(buf, static_cast<std::size_t>(n));
  }
}

// One request on a fresh connection ("Connection: close"); the raw response.
inline read_result round_trip(std::uint16_t port, const std::string& raw,
                              std::chrono::milliseconds limit = 10s) {
  const int fd = connect_loopback(port);
  if (fd < 0) return {};
  send_all(fd, raw);
  auto r = read_until_close(fd, limit);
  ::close(fd);
  return r;
}

inline std::string header_value(const std::string& response, std::string_view name) {
  std::string lower;
  for (char c : response)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string key = "\r\n";
  for (char c : name)
    key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  key += ": ";
  const auto at = lower.find(key);
  if (at == std::string::npos) return {};
  const auto start = at + key.size();
  return response.substr(start, response.find("\r\n", start) - start);
}

// The mock Entra tenant in this process over TLS (test CA), with a hook that reports when the
// token request arrives.
class mock_tenant_server {
 public:
  // `configure` may add users or clients to the tenant before the IdP starts.
  explicit mock_tenant_server(std::function<void(oidc::mock::mock_tenant&)> configure = {}) {
    const auto& pki = oidc::test::cached_test_pki_files();
    ca_file_ = pki.ca.string();
    server_ = std::make_unique<net::http_server>(
        io_, [this](net::request req, net::connection_info conn) {
          if (req.target().find("/oauth2/v2.0/token") != std::string_view::npos)
            token_requests_.fetch_add(1);
          return idp_->handle(std::move(req), conn);
        });
    net::listener_options lo;
    lo.tls = net::make_server_tls_context(pki.cert.string(), pki.key.string()).value();
    const auto ep = server_->listen(lo).value();
    base_ = "https://localhost:" + std::to_string(ep.port());
    oidc::mock::mock_idp_config mc;
    mc.base_url = base_;
    oidc::mock::mock_tenant t;
    t.id = std::string(kTenant);
    t.clients.push_back(
        {std::string(kClient), oidc::mock::client_type::spa, {}, {std::string(kRedirect)}});
    t.users.push_back({"9b1c5d7e-0000-4000-8000-00000000000a", "Ada Lovelace", "ada@acme.example",
                       "ada@acme.example", false});
    t.default_user = "ada@acme.example";
    if (configure) configure(t);
    mc.tenants.push_back(t);
    idp_ = std::make_unique<oidc::mock::identity_provider>(
        mc,
        [] { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); },
        rng_);
    net::client_options copts;
    copts.tls = net::make_client_tls_context(ca_file_).value();
    client_ = std::make_shared<net::http_client>(io_.get_executor(), copts);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~mock_tenant_server() {
    client_->shutdown();
    auto done = asio::co_spawn(io_, server_->shutdown(200ms), asio::use_future);
    done.wait_for(5s);
    work_.reset();
    io_.stop();
    thread_.join();
  }
  mock_tenant_server(const mock_tenant_server&) = delete;
  mock_tenant_server& operator=(const mock_tenant_server&) = delete;

  // A GET with the test CA (the browser's step at the IdP).
  boost::system::result<net::client_response> get(std::string url) {
    net::client_request r;
    r.url = std::move(url);
    auto f = asio::co_spawn(io_, client_->send(std::move(r)), asio::use_future);
    if (f.wait_for(10s) != std::future_status::ready) throw std::runtime_error("get timed out");
    return f.get();
  }

  // A JSON POST to the admin API (loopback only); the status, 0 on a transport failure.
  unsigned post_json(std::string url, std::string body) {
    net::client_request r;
    r.method = http::verb::post;
    r.url = std::move(url);
    r.idempotent = false;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = std::move(body);
    auto f = asio::co_spawn(io_, client_->send(std::move(r)), asio::use_future);
    if (f.wait_for(10s) != std::future_status::ready) throw std::runtime_error("post timed out");
    auto res = f.get();
    return res ? res->status : 0u;
  }

  const std::string& base() const { return base_; }
  const std::string& ca_file() const { return ca_file_; }
  oidc::mock::identity_provider& idp() { return *idp_; }
  int token_requests() const { return token_requests_.load(); }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  oidc::openssl_random rng_;
  std::unique_ptr<oidc::mock::identity_provider> idp_;
  std::unique_ptr<net::http_server> server_;
  std::shared_ptr<net::http_client> client_;
  std::string base_;
  std::string ca_file_;
  std::atomic<int> token_requests_{0};
};

}  // namespace oidc::test::process
