// SPDX-License-Identifier: Apache-2.0
// Error pages: escaping, content negotiation, closed-set content only.
#include "error_page.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

namespace oidc::server {
namespace {

TEST(ErrorPage, EscapesHtmlSpecials) {
  EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(ErrorPage, NegotiatesJsonOnlyWhenPreferred) {
  EXPECT_TRUE(wants_json("application/json"));
  EXPECT_TRUE(wants_json("application/json, text/plain, */*"));
  EXPECT_TRUE(wants_json("text/html;q=0.5, application/json"));
  EXPECT_FALSE(wants_json("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
  EXPECT_FALSE(wants_json("text/html, application/json;q=0.9"));
  EXPECT_FALSE(wants_json(""));
  EXPECT_FALSE(wants_json("application/json;q=0"));
}

TEST(ErrorPage, EchoesOnlyPlausibleIdpErrorCodes) {
  EXPECT_EQ(sanitize_idp_error("access_denied"), "access_denied");
  EXPECT_EQ(sanitize_idp_error("<script>"), "");
  EXPECT_EQ(sanitize_idp_error("Access Denied"), "");
  EXPECT_EQ(sanitize_idp_error(std::string(65, 'a')), "");
}

TEST(ErrorPage, HtmlNamesReasonAndAdminFix) {
  error_view e;
  e.reason = auth_error::token_endpoint_error;
  e.aadsts = &aadsts_lookup(9002327);
  e.request_id = "r-1";
  const auto html = render_error_html(e);
  EXPECT_NE(html.find("token_endpoint_error"), std::string::npos);
  EXPECT_NE(html.find("AADSTS9002327"), std::string::npos);
  EXPECT_NE(html.find("Entra administrator"), std::string::npos);
  EXPECT_NE(html.find("r-1"), std::string::npos);
}

TEST(ErrorPage, HtmlEscapesRetryUrl) {
  error_view e;
  e.reason = auth_error::state_missing;
  e.retry_url = "/x\"><script>";
  const auto html = render_error_html(e);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
}

TEST(ErrorPage, JsonCarriesLabelStatusAndAadsts) {
  error_view e;
  e.reason = auth_error::idp_error;
  e.aadsts = &aadsts_lookup(65001);
  e.idp_error = "consent_required";
  const auto v = boost::json::parse(render_error_json(e)).as_object();
  EXPECT_EQ(v.at("error").as_string(), "idp_error");
  EXPECT_EQ(v.at("status").to_number<int>(), 502);
  EXPECT_EQ(v.at("aadsts").to_number<int>(), 65001);
  EXPECT_EQ(v.at("aadsts_reason").as_string(), "consent_required");
  EXPECT_EQ(v.at("idp_error").as_string(), "consent_required");
}

}  // namespace
}  // namespace oidc::server
