// SPDX-License-Identifier: Apache-2.0
// HTML and JSON error rendering.
#include "error_page.hpp"

#include <algorithm>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace oidc::server {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The q-value of a media range ("text/html;q=0.9" → 0.9); 1 when absent or unreadable.
double q_value(std::string_view params) noexcept {
  const auto at = params.find("q=");
  if (at == std::string_view::npos) return 1.0;
  double q = 0;
  double scale = 1;
  bool fraction = false;
  for (std::size_t i = at + 2; i < params.size(); ++i) {
    const char c = params[i];
    if (c == '.') {
      fraction = true;
    } else if (c >= '0' && c <= '9') {
      if (fraction) {
        scale /= 10;
        q += (c - '0') * scale;
      } else {
        q = q * 10 + (c - '0');
      }
    } else {
      break;
    }
  }
  return q;
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool wants_json(std::string_view accept) noexcept {
  double json_q = -1;
  double html_q = -1;
  while (!accept.empty()) {
    const auto comma = accept.find(',');
    const auto range = trim(accept.substr(0, comma));
    accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
    const auto semi = range.find(';');
    const auto type = trim(range.substr(0, semi));
    const double q = semi == std::string_view::npos ? 1.0 : q_value(range.substr(semi));
    if (type == "application/json") json_q = std::max(json_q, q);
    if (type == "text/html") html_q = std::max(html_q, q);
  }
  return json_q > 0 && json_q > html_q;
}

std::string sanitize_idp_error(std::string_view error) {
  if (error.empty() || error.size() > 64) return {};
  if (!std::all_of(error.begin(), error.end(),
                   [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; }))
    return {};
  return std::string(error);
}

std::string render_error_html(const error_view& e) {
  const unsigned status = http_status(e.reason);
  std::string h;
  h.reserve(2048);
  h += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
       "<title>Sign-in problem</title>"
       "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;"
       "padding:0 1rem;line-height:1.5}code{background:#eee;padding:0 .25rem}"
       ".fix{border-left:4px solid #c60;padding-left:1rem}</style></head><body>\n";
  h += "<h1>Sign-in problem</h1>\n<p>";
  h += html_escape(message(e.reason));
  h += "</p>\n<p>Reason: <code>";
  h += html_escape(label(e.reason));
  h += "</code> (HTTP ";
  h += std::to_string(status);
  h += ")</p>\n";
  if (!e.idp_error.empty()) {
    h += "<p>Identity provider error: <code>";
    h += html_escape(e.idp_error);
    h += "</code></p>\n";
  }
  if (e.aadsts) {
    h += "<div class=\"fix\"><p>";
    if (e.aadsts->code != 0) {
      h += "Entra error <code>AADSTS";
      h += std::to_string(e.aadsts->code);
      h += "</code>: ";
    }
    h += html_escape(e.aadsts->summary);
    h += "</p><p><strong>What your Entra administrator must change:</strong> ";
    h += html_escape(e.aadsts->admin_fix);
    h += "</p></div>\n";
  }
  if (!e.retry_url.empty()) {
    h += "<p><a href=\"";
    h += html_escape(e.retry_url);
    h += "\">Try again</a></p>\n";
  }
  if (!e.request_id.empty()) {
    h += "<p><small>Request id: <code>";
    h += html_escape(e.request_id);
    h += "</code></small></p>\n";
  }
  h += "</body></html>\n";
  return h;
}

std::string render_error_json(const error_view& e) {
  boost::json::object o;
  o["error"] = label(e.reason);
  o["message"] = message(e.reason);
  o["status"] = http_status(e.reason);
  if (!e.idp_error.empty()) o["idp_error"] = e.idp_error;
  if (e.aadsts) {
    if (e.aadsts->code != 0) o["aadsts"] = e.aadsts->code;
    o["aadsts_reason"] = e.aadsts->key;
    o["admin_fix"] = e.aadsts->admin_fix;
  }
  if (!e.request_id.empty()) o["request_id"] = e.request_id;
  return boost::json::serialize(o);
}

}  // namespace oidc::server
