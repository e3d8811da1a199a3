// SPDX-License-Identifier: Apache-2.0
// Query-string and form parsing with strict percent-decoding.
#include "http_params.hpp"

namespace oidc::server {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

result<param_list> parse_pairs(std::string_view text, const param_limits& limits) {
  if (text.size() > limits.max_bytes) return auth_error::request_invalid;
  std::vector<std::pair<std::string, std::string>> items;
  while (!text.empty()) {
    const auto amp = text.find('&');
    const std::string_view piece = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    if (piece.empty()) continue;
    if (items.size() == limits.max_params) return auth_error::request_invalid;
    const auto eq = piece.find('=');
    auto name = percent_decode(piece.substr(0, eq), true);
    if (!name || name->empty()) return auth_error::request_invalid;
    auto value = eq == std::string_view::npos ? result<std::string>(std::string{})
                                              : percent_decode(piece.substr(eq + 1), true);
    if (!value) return auth_error::request_invalid;
    for (const auto& [n, v] : items)
      if (n == *name) return auth_error::request_invalid;
    items.emplace_back(std::move(*name), std::move(*value));
  }
  return param_list(std::move(items));
}

}  // namespace

std::optional<std::string_view> param_list::get(std::string_view name) const noexcept {
  for (const auto& [n, v] : items_)
    if (n == name) return std::string_view(v);
  return std::nullopt;
}

result<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3) return auth_error::request_invalid;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return auth_error::request_invalid;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

result<param_list> parse_query(std::string_view query, const param_limits& limits) {
  return parse_pairs(query, limits);
}

result<param_list> parse_form(std::string_view body, const param_limits& limits) {
  return parse_pairs(body, limits);
}

std::string_view query_of(std::string_view target) noexcept {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  auto rest = target.substr(q + 1);
  return rest.substr(0, rest.find('#'));
}

std::string_view path_of(std::string_view target) noexcept {
  return target.substr(0, target.find_first_of("?#"));
}

std::string url_encode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size() * 3);
  for (const char c : in) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '.' || u == '_' || u == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

}  // namespace oidc::server
