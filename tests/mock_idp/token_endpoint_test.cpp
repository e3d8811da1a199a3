// SPDX-License-Identifier: Apache-2.0
// The mock IdP's authorize and token endpoints: the happy path whose tokens verify through core's
// rules, and every Entra error it emits, asserted by status, error, AADSTS code and error_codes.
#include <gtest/gtest.h>

#include "mock_idp/mock_idp_fixture.hpp"
#include "oidc/claims.hpp"

namespace oidc::mock::test {
namespace {

using namespace std::chrono_literals;

id_token_expectations id_expectations(std::string_view nonce) {
  id_token_expectations want;
  want.issuer = std::string(kBase) + "/" + std::string(kTenant) + "/v2.0";
  want.client_id = std::string(kSpa);
  want.tenant_id = std::string(kTenant);
  want.nonce = std::string(nonce);
  want.allowed_algs = {jws_alg::RS256};
  return want;
}

TEST_F(MockIdpTest, DiscoveryNamesEndpointsUnderItsOwnBaseUrl) {
  auto res = get(tenant_path(kTenant, "/v2.0/.well-known/openid-configuration"));
  ASSERT_EQ(res.result_int(), 200u);
  auto doc = parse_json_object(res.body(), kJwksJsonLimits).value();
  const std::string base = std::string(kBase) + "/" + std::string(kTenant);
  EXPECT_EQ(*find_string(doc, "issuer"), base + "/v2.0");
  EXPECT_EQ(*find_string(doc, "authorization_endpoint"), base + "/oauth2/v2.0/authorize");
  EXPECT_EQ(*find_string(doc, "token_endpoint"), base + "/oauth2/v2.0/token");
  EXPECT_EQ(*find_string(doc, "jwks_uri"), base + "/discovery/v2.0/keys");
  EXPECT_EQ(*find_string(doc, "end_session_endpoint"), base + "/oauth2/v2.0/logout");
}

TEST_F(MockIdpTest, UnknownTenantIsAadsts90002) {
  auto res = get(tenant_path("no-such-tenant", "/v2.0/.well-known/openid-configuration"));
  token_reply r{res.result_int(), parse_json_object(res.body(), kJoseJsonLimits).value()};
  expect_entra_error(r, 400, "invalid_tenant", 90002);
}

TEST_F(MockIdpTest, AuthorizeRedirectsBackWithCodeAndState) {
  const auto pkce = fresh_pkce();
  auto res = get(authorize_target(kSpa, kRedirect, pkce.challenge));
  ASSERT_EQ(res.result_int(), 302u);
  const std::string_view loc = res[http::field::location];
  EXPECT_TRUE(loc.starts_with(std::string(kRedirect) + "?code=")) << loc;
  const auto params = location_params(res);
  ASSERT_NE(form_get(params, "state"), nullptr);
  EXPECT_EQ(*form_get(params, "state"), "st-123");
  EXPECT_EQ(idp_.stored_codes(), 1u);
}

TEST_F(MockIdpTest, CodeRedeemsForTokensThatVerifyWithThePublishedKeys) {
  const auto pkce = fresh_pkce();
  const std::string code = code_for(pkce);
  auto r = redeem(redeem_body(kSpa, code, kRedirect, pkce.verifier));
  ASSERT_EQ(r.status, 200u) << boost::json::serialize(r.body);
  EXPECT_EQ(*find_string(r.body, "token_type"), "Bearer");
  EXPECT_EQ(find_int64(r.body, "expires_in"), 3600);
  const auto keys = published_keys();
  ASSERT_TRUE(keys);
  auto claims =
      verify_id_token(*find_string(r.body, "id_token"), *keys, id_expectations("n-456"), now());
  ASSERT_TRUE(claims.has_value()) << label(claims.error());
  EXPECT_EQ(claims->oid, "9b1c5d7e-0000-4000-8000-00000000000a");
  EXPECT_EQ(claims->tid, kTenant);
  EXPECT_EQ(claims->preferred_username, "ada@demo.example");
  EXPECT_EQ(claims->email, "ada@demo.example");
  EXPECT_EQ(claims->name, "Ada Lovelace");
  EXPECT_EQ(claims->ver, "2.0");
  EXPECT_FALSE(claims->login_hint.empty());
  EXPECT_FALSE(claims->sub.empty());
  EXPECT_NE(claims->sub, claims->oid);  // pairwise, as Entra's

  access_token_expectations at;
  at.issuers = {std::string(kBase) + "/" + std::string(kTenant) + "/v2.0"};
  at.audiences = {std::string(kSpa)};
  at.tenant_id = std::string(kTenant);
  at.allowed_algs = {jws_alg::RS256};
  auto access = verify_access_token(*find_string(r.body, "access_token"), *keys, at, now());
  ASSERT_TRUE(access.has_value()) << label(access.error());
  EXPECT_FALSE(access->scopes.empty());
}

TEST_F(MockIdpTest, LoginHintSignsAnotherConfiguredUserIn) {
  const auto pkce = fresh_pkce();
  const std::string code = code_for(pkce, "&login_hint=BOB%40demo.example");
  auto r = redeem(redeem_body(kSpa, code, kRedirect, pkce.verifier));
  ASSERT_EQ(r.status, 200u);
  auto claims = verify_id_token(*find_string(r.body, "id_token"), *published_keys(),
                                id_expectations("n-456"), now());
  ASSERT_TRUE(claims.has_value());
  EXPECT_EQ(claims->preferred_username, "bob@demo.example");
}

// Entra's optional login_hint claim: opaque, stable per user, what a relying party sends back as
// logout_hint on the end-session redirect.
TEST_F(MockIdpTest, IdTokenCarriesAStableOpaqueLoginHintPerUser) {
  auto login_hint_of = [&](std::string extra) {
    const auto pkce = fresh_pkce();
    const std::string code = code_for(pkce, std::move(extra));
    auto r = redeem(redeem_body(kSpa, code, kRedirect, pkce.verifier));
    EXPECT_EQ(r.status, 200u);
    const auto* id_token = find_string(r.body, "id_token");
    if (id_token == nullptr) return std::string();
    const std::string_view jwt = *id_token;
    const auto dot1 = jwt.find('.');
    const auto payload = base64url_decode(jwt.substr(dot1 + 1, jwt.rfind('.') - dot1 - 1));
    auto claims = parse_json_object(payload.value(), kJoseJsonLimits).value();
    const auto* hint = find_string(claims, "login_hint");
    EXPECT_NE(hint, nullptr) << "login_hint missing from the ID token";
    return hint ? std::string(*hint) : std::string();
  };
  const std::string ada = login_hint_of({});
  ASSERT_FALSE(ada.empty());
  EXPECT_EQ(login_hint_of({}), ada);
  const std::string bob = login_hint_of("&login_hint=bob%40demo.example");
  EXPECT_FALSE(bob.empty());
  EXPECT_NE(bob, ada);
  EXPECT_EQ(ada.find("ada@demo.example"), std::string::npos);
  EXPECT_EQ(ada.find('.'), std::string::npos);
  EXPECT_TRUE(base64url_decode(ada).has_value());
}

TEST_F(MockIdpTest, UnknownLoginHintIsAadsts50034OnTheMocksPage) {
  const auto pkce = fresh_pkce();
  auto res = get(authorize_target(kSpa, kRedirect, pkce.challenge, "&login_hint=nobody"));
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_EQ(res.find(http::field::location), res.end());
  EXPECT_NE(res.body().find("AADSTS50034"), std::string::npos);
}

TEST_F(MockIdpTest, DisabledUserIsAadsts50057OnTheMocksPage) {
  const auto pkce = fresh_pkce();
  auto res =
      get(authorize_target(kSpa, kRedirect, pkce.challenge, "&login_hint=carol%40demo.example"));
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_NE(res.body().find("AADSTS50057"), std::string::npos);
}

TEST_F(MockIdpTest, UnregisteredRedirectUriIsAadsts50011WithoutRedirectingBack) {
  const auto pkce = fresh_pkce();
  auto res = get(authorize_target(kSpa, "https://evil.example/cb", pkce.challenge));
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_EQ(res.find(http::field::location), res.end());
  EXPECT_NE(res.body().find("AADSTS50011"), std::string::npos);
  EXPECT_EQ(idp_.stored_codes(), 0u);
}

TEST_F(MockIdpTest, UnknownClientAtAuthorizeIsAadsts700016OnTheMocksPage) {
  const auto pkce = fresh_pkce();
  auto res =
      get(authorize_target("00000000-0000-0000-0000-000000000000", kRedirect, pkce.challenge));
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_EQ(res.find(http::field::location), res.end());
  EXPECT_NE(res.body().find("AADSTS700016"), std::string::npos);
}

TEST_F(MockIdpTest, AuthorizeWithoutPkceForSpaRedirectsBackWithAadsts9002325) {
  auto res =
      get(tenant_path(kTenant, "/oauth2/v2.0/authorize") + "?client_id=" + std::string(kSpa) +
          "&response_type=code&redirect_uri=" + url_encode(kRedirect) + "&scope=openid&state=s1");
  ASSERT_EQ(res.result_int(), 302u);
  const auto params = location_params(res);
  ASSERT_NE(form_get(params, "error"), nullptr);
  EXPECT_EQ(*form_get(params, "error"), "invalid_request");
  EXPECT_TRUE(form_get(params, "error_description")->starts_with("AADSTS9002325:"));
  EXPECT_EQ(*form_get(params, "state"), "s1");
  EXPECT_EQ(form_get(params, "code"), nullptr);
}

TEST_F(MockIdpTest, AuthorizeWithoutOpenidScopeRedirectsBackWithAnError) {
  const auto pkce = fresh_pkce();
  auto res =
      get(tenant_path(kTenant, "/oauth2/v2.0/authorize") + "?client_id=" + std::string(kSpa) +
          "&response_type=code&redirect_uri=" + url_encode(kRedirect) +
          "&scope=profile&code_challenge=" + pkce.challenge + "&code_challenge_method=S256");
  ASSERT_EQ(res.result_int(), 302u);
  EXPECT_EQ(*form_get(location_params(res), "error"), "invalid_request");
}

TEST_F(MockIdpTest, ResponseTypeOtherThanCodeIsUnsupported) {
  const auto pkce = fresh_pkce();
  auto res =
      get(tenant_path(kTenant, "/oauth2/v2.0/authorize") + "?client_id=" + std::string(kSpa) +
          "&response_type=token&redirect_uri=" + url_encode(kRedirect) +
          "&scope=openid&code_challenge=" + pkce.challenge + "&code_challenge_method=S256");
  ASSERT_EQ(res.result_int(), 302u);
  const auto params = location_params(res);
  EXPECT_EQ(*form_get(params, "error"), "unsupported_response_type");
  EXPECT_TRUE(form_get(params, "error_description")->starts_with("AADSTS700054:"));
}

TEST_F(MockIdpTest, SpaRedemptionWithoutOriginIsAadsts9002327) {
  const auto pkce = fresh_pkce();
  auto r = redeem(redeem_body(kSpa, code_for(pkce), kRedirect, pkce.verifier), std::nullopt);
  expect_entra_error(r, 400, "invalid_request", 9002327);
}

TEST_F(MockIdpTest, OriginOnWebClientRedemptionIsAadsts9002326) {
  const auto pkce = fresh_pkce();
  const std::string code = code_for(pkce, {}, kWeb, kWebRedirect);
  auto r = redeem(redeem_body(kWeb, code, kWebRedirect, pkce.verifier) +
                  "&client_secret=" + std::string(kWebSecret));
  expect_entra_error(r, 400, "invalid_request", 9002326);
}

TEST_F(MockIdpTest, SecretFromPublicClientIsAadsts700025) {
  const auto pkce = fresh_pkce();
  auto r = redeem(redeem_body(kSpa, code_for(pkce), kRedirect, pkce.verifier) +
                  "&client_secret=anything");
  expect_entra_error(r, 401, "invalid_client", 700025);
}

TEST_F(MockIdpTest, WebClientWithoutSecretIsAadsts7000218) {
  const auto pkce = fresh_pkce();
  const std::string code = code_for(pkce, {}, kWeb, kWebRedirect);
  auto r = redeem(redeem_body(kWeb, code, kWebRedirect, pkce.verifier), std::nullopt);
  expect_entra_error(r, 401, "invalid_client", 7000218);
}

TEST_F(MockIdpTest, WebClientWithWrongSecretIsAadsts7000215) {
  const auto pkce = fresh_pkce();
  const std::string code = code_for(pkce, {}, kWeb, kWebRedirect);
  auto r = redeem(redeem_body(kWeb, code, kWebRedirect, pkce.verifier) + "&client_secret=wrong",
                  std::nullopt);
  expect_entra_error(r, 401, "invalid_client", 7000215);
}

TEST_F(MockIdpTest, WebClientWithSecretAndNoOriginRedeems) {
  const auto pkce = fresh_pkce();
  const std::string code = code_for(pkce, {}, kWeb, kWebRedirect);
  auto r = redeem(redeem_body(kWeb, code, kWebRedirect, pkce.verifier) +
                      "&client_secret=" + std::string(kWebSecret),
                  std::nullopt);
  EXPECT_EQ(r.status, 200u) << boost::json::serialize(r.body);
}

TEST_F(MockIdpTest, ReusedCodeIsAadsts54005) {
  const auto pkce = fresh_pkce();
  const std::string body = redeem_body(kSpa, code_for(pkce), kRedirect, pkce.verifier);
  ASSERT_EQ(redeem(body).status, 200u);
  expect_entra_error(redeem(body), 400, "invalid_grant", 54005);
}

TEST_F(MockIdpTest, FailedRedemptionStillSpendsTheCode) {
  const auto pkce = fresh_pkce();
  const std::string code = code_for(pkce);
  auto wrong = redeem(redeem_body(kSpa, code, kRedirect, fresh_pkce().verifier));
  expect_entra_error(wrong, 400, "invalid_grant", 501481);
  expect_entra_error(redeem(redeem_body(kSpa, code, kRedirect, pkce.verifier)), 400,
                     "invalid_grant", 54005);
}

TEST_F(MockIdpTest, CodeRedeemedAfterItsLifetimeIsAadsts70008) {
  const auto pkce = fresh_pkce();
  const std::string code = code_for(pkce);
  advance(120s);  // the default code lifetime
  expect_entra_error(redeem(redeem_body(kSpa, code, kRedirect, pkce.verifier)), 400,
                     "invalid_grant", 70008);
}

TEST_F(MockIdpTest, CodeRedeemedJustBeforeItsLifetimeEndsSucceeds) {
  const auto pkce = fresh_pkce();
  const std::string code = code_for(pkce);
  advance(119s);
  EXPECT_EQ(redeem(redeem_body(kSpa, code, kRedirect, pkce.verifier)).status, 200u);
}

TEST_F(MockIdpTest, VerifierMismatchIsAadsts501481) {
  const auto pkce = fresh_pkce();
  auto r = redeem(redeem_body(kSpa, code_for(pkce), kRedirect, fresh_pkce().verifier));
  expect_entra_error(r, 400, "invalid_grant", 501481);
}

TEST_F(MockIdpTest, MissingVerifierIsAadsts501481) {
  const auto pkce = fresh_pkce();
  auto r = redeem("grant_type=authorization_code&client_id=" + std::string(kSpa) +
                  "&code=" + url_encode(code_for(pkce)) + "&redirect_uri=" + url_encode(kRedirect));
  expect_entra_error(r, 400, "invalid_grant", 501481);
}

TEST_F(MockIdpTest, RedirectUriDifferentFromTheAuthorizedOneIsAadsts500112) {
  const auto pkce = fresh_pkce();
  auto r = redeem(redeem_body(kSpa, code_for(pkce), std::string(kRedirect) + "/", pkce.verifier));
  expect_entra_error(r, 400, "invalid_grant", 500112);
}

TEST_F(MockIdpTest, UnknownClientAtTokenEndpointIsAadsts700016) {
  const auto pkce = fresh_pkce();
  auto r = redeem(redeem_body("00000000-0000-0000-0000-000000000000", code_for(pkce), kRedirect,
                              pkce.verifier));
  expect_entra_error(r, 400, "unauthorized_client", 700016);
}

TEST_F(MockIdpTest, CodeOfAnotherTenantIsRefused) {
  const auto pkce = fresh_pkce();
  auto r = redeem(redeem_body(kSpa, code_for(pkce), kRedirect, pkce.verifier), std::string(kOrigin),
                  kOtherTenant);
  expect_entra_error(r, 400, "invalid_grant", 9002313);
}

TEST_F(MockIdpTest, MissingGrantTypeIsAadsts900144) {
  expect_entra_error(redeem("client_id=" + std::string(kSpa)), 400, "invalid_request", 900144);
}

TEST_F(MockIdpTest, OtherGrantTypeIsAadsts70003) {
  expect_entra_error(redeem("grant_type=password&client_id=" + std::string(kSpa)), 400,
                     "unsupported_grant_type", 70003);
}

TEST_F(MockIdpTest, DuplicateParameterIsAadsts9002313) {
  const auto pkce = fresh_pkce();
  auto r = redeem(redeem_body(kSpa, code_for(pkce), kRedirect, pkce.verifier) +
                  "&client_id=" + std::string(kSpa));
  expect_entra_error(r, 400, "invalid_request", 9002313);
}

TEST_F(MockIdpTest, BadPercentEncodingIsAadsts9002313) {
  expect_entra_error(redeem("grant_type=authorization_code%2"), 400, "invalid_request", 9002313);
}

TEST_F(MockIdpTest, GetOnTokenEndpointIsAadsts900561) {
  auto res = get(tenant_path(kTenant, "/oauth2/v2.0/token"));
  token_reply r{res.result_int(), parse_json_object(res.body(), kJoseJsonLimits).value()};
  expect_entra_error(r, 400, "invalid_request", 900561);
}

TEST_F(MockIdpTest, CorrelationIdEchoesClientRequestId) {
  net::request req{http::verb::post, tenant_path(kTenant, "/oauth2/v2.0/token"), 11};
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  req.set("client-request-id", "corr-1");
  req.body() = "client_id=x";
  req.prepare_payload();
  auto res = call(std::move(req));
  auto body = parse_json_object(res.body(), kJoseJsonLimits).value();
  EXPECT_EQ(*find_string(body, "correlation_id"), "corr-1");
}

TEST_F(MockIdpTest, LogoutRedirectsToARegisteredPostLogoutUri) {
  auto res = get(tenant_path(kTenant, "/oauth2/v2.0/logout") +
                 "?post_logout_redirect_uri=" + url_encode(kRedirect) + "&logout_hint=x");
  ASSERT_EQ(res.result_int(), 302u);
  EXPECT_EQ(res[http::field::location], kRedirect);
}

TEST_F(MockIdpTest, LogoutToAnUnregisteredUriShowsASignedOutPage) {
  auto res = get(tenant_path(kTenant, "/oauth2/v2.0/logout") +
                 "?post_logout_redirect_uri=" + url_encode("https://evil.example/"));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.find(http::field::location), res.end());
}

class MockIdpPickerTest : public MockIdpTest {
 protected:
  static mock_idp_config picker_config() {
    auto c = test_config();
    c.auto_approve = false;
    return c;
  }
  MockIdpPickerTest() : MockIdpTest(picker_config()) {}
};

TEST_F(MockIdpPickerTest, WithoutAutoApproveAuthorizeShowsAUserPicker) {
  const auto pkce = fresh_pkce();
  auto res = get(authorize_target(kSpa, kRedirect, pkce.challenge));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_NE(res.body().find("login_hint=bob%40demo.example"), std::string::npos);
  EXPECT_EQ(idp_.stored_codes(), 0u);
}

TEST_F(MockIdpPickerTest, WithoutAutoApproveLoginHintSignsIn) {
  const auto pkce = fresh_pkce();
  auto res =
      get(authorize_target(kSpa, kRedirect, pkce.challenge, "&login_hint=bob%40demo.example"));
  EXPECT_EQ(res.result_int(), 302u);
}

}  // namespace
}  // namespace oidc::mock::test
