// SPDX-License-Identifier: Apache-2.0
// A small thread pool for blocking work (SQLite, file reads) so that no I/O thread ever blocks
// (docs/DESIGN "Async model"), and run_blocking(), which a coroutine awaits to run a function
// there and resume on its own executor.
//
//   auto job = [dir, who, domains] { return dir->resolve(who, domains); };
//   auto op = run_blocking(pool, std::move(job));  // named: never a temporary inside co_await
//   auto r = co_await std::move(op);
#pragma once

#include <cstddef>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace oidc::server {

namespace asio = boost::asio;

class blocking_pool {
 public:
  using executor_type = asio::thread_pool::executor_type;

  explicit blocking_pool(std::size_t threads = 2) : pool_(threads) {}
  // Stops and joins: work not started yet is dropped (its awaiting coroutine is destroyed with
  // it). Call join() first to drain.
  ~blocking_pool() = default;
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  executor_type get_executor() noexcept { return pool_.get_executor(); }
  // Waits until the queued work is done and the threads have exited.
  void join() { pool_.join(); }
  void stop() { pool_.stop(); }

 private:
  asio::thread_pool pool_;
};

namespace detail {

// The outcome of a blocking call, kept in the awaiting coroutine's frame (which stays suspended,
// so alive, until the call has finished and the coroutine is resumed).
template <class R>
struct blocking_outcome {
  std::optional<R> value;
  std::exception_ptr error;

  template <class F>
  void run(F& f) noexcept {
    try {
      value.emplace(std::move(f)());
    } catch (...) {
      error = std::current_exception();
    }
  }
  R take() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};

template <>
struct blocking_outcome<void> {
  std::exception_ptr error;

  template <class F>
  void run(F& f) noexcept {
    try {
      std::move(f)();
    } catch (...) {
      error = std::current_exception();
    }
  }
  void take() {
    if (error) std::rethrow_exception(error);
  }
};

}  // namespace detail

// Runs `f` on the pool and resumes the awaiting coroutine on its own executor with f's result,
// or rethrows f's exception there. The caller's executor counts as busy meanwhile, so its
// io_context does not run out of work while waiting. Name the function object and the awaitable
// (as in the example at the top): GCC 12 destroys a capturing lambda written inside the co_await
// expression twice (seen as heap corruption), whether it is passed by value or by reference.
template <class F>
asio::awaitable<std::invoke_result_t<F>> run_blocking(blocking_pool& pool, F f) {
  using R = std::invoke_result_t<F>;
  static_assert(!std::is_reference_v<R>, "return a value, not a reference into the pool");
  detail::blocking_outcome<R> outcome;
  auto initiation = [&pool, &f, &outcome](auto handler) {
    auto home = asio::prefer(asio::get_associated_executor(handler),
                             asio::execution::outstanding_work.tracked);
    asio::post(pool.get_executor(),
               [&f, &outcome, home = std::move(home), handler = std::move(handler)]() mutable {
                 outcome.run(f);
                 asio::post(home, std::move(handler));
               });
  };
  auto done = asio::async_initiate<const asio::use_awaitable_t<>, void()>(std::move(initiation),
                                                                          asio::use_awaitable);
  co_await std::move(done);
  co_return outcome.take();
}

}  // namespace oidc::server
