// SPDX-License-Identifier: Apache-2.0
#include "jwks_service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>

#include "net_metrics.hpp"
#include "oidc/jws.hpp"

namespace oidc::server {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using outcome_channel = asio::experimental::concurrent_channel<void(error_code, auth_error)>;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

// One fetch in progress and the requests waiting for it. Each waiter has its own one-slot
// channel, so the finishing fetch can hand the outcome to all of them from any thread.
struct jwks_service::flight {
  bool done = false;  // guarded by jwks_service::mutex_
  auth_error outcome = auth_error::ok;
  std::vector<std::shared_ptr<outcome_channel>> waiters;
};

jwks_service::jwks_service(std::shared_ptr<key_cache> cache,
                           std::shared_ptr<net::http_client> client, wall_clock_fn clock,
                           jwks_service_options options)
    : cache_(std::move(cache)),
      client_(std::move(client)),
      clock_(std::move(clock)),
      options_(options) {}

sys_seconds jwks_service::now() const {
  const auto t = clock_ ? clock_() : std::chrono::system_clock::now();
  return std::chrono::floor<std::chrono::seconds>(t);
}

asio::awaitable<auth_error> jwks_service::download(std::string jwks_uri) {
  net::client_request req;
  req.url = jwks_uri;
  req.headers.emplace_back("Accept", "application/json");
  const auto started = std::chrono::steady_clock::now();
  auto op = client_->send(std::move(req));
  auto res = co_await std::move(op);
  auto outcome = idp_outcome_of(res);
  auth_error reason = auth_error::ok;
  if (!res) {
    reason = res.error() == net::client_errc::timeout ? auth_error::idp_timeout
                                                      : auth_error::jwks_unavailable;
  } else if (res->status != 200) {
    reason = auth_error::jwks_unavailable;
  } else if (auto parsed = parse_jwks(res->body); !parsed) {
    reason = parsed.error();
    outcome = metrics::idp_outcome::bad_response;
  } else {
    record(jwks_uri, outcome, started);
    const auto cache_control = res->headers[boost::beast::http::field::cache_control];
    cache_->publish(
        jwks_uri, parsed->keys, now(),
        parse_cache_control_max_age(std::string_view(cache_control.data(), cache_control.size())));
    co_return auth_error::ok;
  }
  record(jwks_uri, outcome, started);
  cache_->record_refresh_failure(jwks_uri, reason, now());
  co_return reason;
}

void jwks_service::record(std::string_view jwks_uri, metrics::idp_outcome outcome,
                          std::chrono::steady_clock::time_point started) const noexcept {
  if (options_.metrics)
    options_.metrics->idp_request(metrics::idp_endpoint::jwks, url_host(jwks_uri), outcome,
                                  std::chrono::steady_clock::now() - started);
}

asio::awaitable<void> jwks_service::run_flight(std::shared_ptr<jwks_service> self,
                                               std::string jwks_uri, std::shared_ptr<flight> f) {
  auth_error outcome = auth_error::internal_error;
  try {
    auto op = self->download(jwks_uri);
    outcome = co_await std::move(op);
  } catch (const std::exception&) {
    outcome = auth_error::internal_error;
  }
  std::vector<std::shared_ptr<outcome_channel>> waiters;
  {
    std::lock_guard lock(self->mutex_);
    f->done = true;
    f->outcome = outcome;
    waiters.swap(f->waiters);
    self->flights_.erase(jwks_uri);
  }
  for (const auto& w : waiters)
    w->try_send(error_code{}, outcome);
}

asio::awaitable<std::optional<auth_error>> jwks_service::fetch(std::string jwks_uri, join mode) {
  const auto ex = co_await asio::this_coro::executor;
  auto channel = std::make_shared<outcome_channel>(ex, 1);
  {
    std::lock_guard lock(mutex_);
    auto it = flights_.find(jwks_uri);
    if (it == flights_.end()) {
      if (mode == join::join_only) co_return std::nullopt;
      auto f = std::make_shared<flight>();
      f->waiters.push_back(channel);
      flights_.emplace(jwks_uri, f);
      fetches_started_.fetch_add(1);
      asio::co_spawn(ex, run_flight(shared_from_this(), jwks_uri, f), asio::detached);
    } else {
      it->second->waiters.push_back(channel);
    }
  }
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(ex, options_.wait_limit);
  auto receive = channel->async_receive(tuple_awaitable);
  auto expire = deadline.async_wait(tuple_awaitable);
  auto either = std::move(receive) || std::move(expire);
  auto r = co_await std::move(either);
  if (r.index() == 1) co_return auth_error::idp_timeout;
  co_return std::get<1>(std::get<0>(r));
}

asio::awaitable<result<token_claims>> jwks_service::verify(const std::string& jwks_uri,
                                                           const jose_header& header,
                                                           alg_set allowed, key_set_check check) {
  if (!allowed.contains(header.alg)) co_return auth_error::alg_not_allowed;

  bool fetched = false;
  for (;;) {
    const sys_seconds t = now();
    lookup_outcome outcome;
    result<token_claims> verdict = auth_error::internal_error;
    {
      // No co_await inside: the guard pins this thread's epoch slot.
      const auto guard = cache_->pin();
      const key_lookup found = cache_->lookup(guard, jwks_uri, header.kid, header.alg, t);
      outcome = found.outcome;
      if (found.keys && (outcome == lookup_outcome::hit || outcome == lookup_outcome::stale))
        verdict = check(*found.keys);
    }
    switch (outcome) {
      case lookup_outcome::hit:
        co_return verdict;
      case lookup_outcome::stale: {
        // Serve the last good keys and refresh behind the request (one fetch for everyone).
        if (cache_->next_refresh_at(jwks_uri).value_or(t) <= t) {
          auto self = shared_from_this();
          const auto ex = co_await asio::this_coro::executor;
          asio::co_spawn(
              ex,
              [](std::shared_ptr<jwks_service> s, std::string uri) -> asio::awaitable<void> {
                auto op = s->fetch(std::move(uri), join::start_or_join);
                co_await std::move(op);
              }(self, jwks_uri),
              asio::detached);
        }
        co_return verdict;
      }
      case lookup_outcome::too_stale: {
        // Fail closed, but let this request try the IdP once when the backoff allows, so keys
        // recover as soon as it answers again.
        if (fetched || cache_->next_refresh_at(jwks_uri).value_or(t) > t)
          co_return auth_error::jwks_stale;
        fetched = true;
        auto op = fetch(jwks_uri, join::start_or_join);
        auto r = co_await std::move(op);
        if (r && *r != auth_error::ok) co_return auth_error::jwks_stale;
        continue;
      }
      case lookup_outcome::key_use_mismatch:
        co_return to_auth_error(outcome);
      case lookup_outcome::set_missing: {
        if (fetched) co_return auth_error::jwks_unavailable;
        fetched = true;
        auto op = fetch(jwks_uri, join::start_or_join);
        auto r = co_await std::move(op);
        if (r && *r != auth_error::ok) co_return *r;
        continue;
      }
      case lookup_outcome::kid_unknown: {
        if (fetched) co_return auth_error::kid_unknown;
        fetched = true;
        // One refresh per interval per key set; concurrent misses wait on that same fetch, and
        // once the interval's refresh is spent an unknown kid fails at once.
        const bool lead = cache_->may_refresh_for_unknown_kid(jwks_uri, t);
        // Whatever the fetch did (or if the interval's one had already finished), look again:
        // a second miss is final.
        auto op = fetch(jwks_uri, lead ? join::start_or_join : join::join_only);
        co_await std::move(op);
        continue;
      }
      case lookup_outcome::count_:
        break;
    }
    co_return auth_error::internal_error;
  }
}

asio::awaitable<void> bounded_for_each(std::size_t count, unsigned workers,
                                       std::function<asio::awaitable<void>(std::size_t)> body) {
  if (count == 0) co_return;
  struct shared_state {
    std::function<asio::awaitable<void>(std::size_t)> body;
    std::size_t count = 0;
    std::atomic<std::size_t> next{0};
    std::atomic<unsigned> running{0};
    std::shared_ptr<asio::experimental::concurrent_channel<void(error_code)>> finished;
  };
  const auto ex = co_await asio::this_coro::executor;
  auto st = std::make_shared<shared_state>();
  st->body = std::move(body);
  st->count = count;
  st->finished = std::make_shared<asio::experimental::concurrent_channel<void(error_code)>>(ex, 1);
  const auto n = static_cast<unsigned>(std::min<std::size_t>(std::max(workers, 1u), count));
  st->running.store(n);
  for (unsigned w = 0; w < n; ++w) {
    asio::co_spawn(
        ex,
        [](std::shared_ptr<shared_state> s) -> asio::awaitable<void> {
          for (;;) {
            const std::size_t i = s->next.fetch_add(1);
            if (i >= s->count) break;
            try {
              auto op = s->body(i);
              co_await std::move(op);
            } catch (const std::exception&) {
              // One item's failure must not stop the others.
            }
          }
          if (s->running.fetch_sub(1) == 1) s->finished->try_send(error_code{});
        }(st),
        asio::detached);
  }
  auto wait = st->finished->async_receive(tuple_awaitable);
  co_await std::move(wait);
}

asio::awaitable<std::size_t> jwks_service::refresh_due(unsigned concurrency) {
  const sys_seconds t = now();
  auto due = std::make_shared<std::vector<std::string>>();
  for (auto& id : cache_->ids()) {
    const auto at = cache_->next_refresh_at(id);
    if (at && *at <= t) due->push_back(std::move(id));
  }
  auto self = shared_from_this();
  std::function<asio::awaitable<void>(std::size_t)> body = [self, due](std::size_t i) {
    return [](std::shared_ptr<jwks_service> s, std::string uri) -> asio::awaitable<void> {
      auto op = s->fetch(std::move(uri), join::start_or_join);
      co_await std::move(op);
    }(self, (*due)[i]);
  };
  auto op = bounded_for_each(due->size(), concurrency, std::move(body));
  co_await std::move(op);
  co_return due->size();
}

}  // namespace oidc::server
