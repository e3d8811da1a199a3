// SPDX-License-Identifier: Apache-2.0
// The AADSTS table.
#include "aadsts.hpp"

#include <array>

namespace oidc::server {
namespace {

constexpr std::array kRows{
    aadsts_info{50011, "redirect_uri_not_registered",
                "The sign-in address of this application is not registered in Entra.",
                "In the app registration, under Authentication > Single-page application, add the "
                "redirect URI exactly as this server uses it (https://ORG.<domain>/api/"
                "single-sign-on)."},
    aadsts_info{700025, "secret_from_public_client",
                "Entra refused a client secret from a public (single-page) client.",
                "The registration is a single-page application, which has no secret: remove the "
                "client_auth setting for this organisation, or register a Web platform instead."},
    aadsts_info{9002327, "origin_missing",
                "Entra redeems single-page-application codes only for cross-origin requests.",
                "The redirect URI is registered under Single-page application: keep it there and "
                "make sure the organisation has no client_auth setting (the server then sends "
                "the Origin header)."},
    aadsts_info{9002326, "origin_on_web_client",
                "Entra refused cross-origin redemption for a Web-platform redirect URI.",
                "Move the redirect URI from the Web platform to Single-page application in the "
                "app registration, or configure client_auth for a confidential Web client."},
    aadsts_info{7000218, "web_client_without_secret",
                "Entra expects a client secret or assertion for this registration.",
                "The redirect URI is registered under the Web platform: move it to Single-page "
                "application (recommended), or configure client_auth with a secret or "
                "certificate."},
    aadsts_info{54005, "code_reused", "The sign-in code was already used.",
                "Nothing to change in Entra: start the sign-in again. If it repeats, check that "
                "no proxy or browser extension replays the callback."},
    aadsts_info{70008, "code_expired", "The sign-in code expired before it was redeemed.",
                "Start the sign-in again; check the server's clock and its connection to Entra "
                "if it repeats."},
    aadsts_info{501481, "pkce_verifier_mismatch",
                "The PKCE code verifier did not match the sign-in request.",
                "Start the sign-in again. If it repeats, the login cookie is being lost or "
                "mixed up between tabs or instances (check the cookie key ring)."},
    aadsts_info{500112, "token_redirect_uri_mismatch",
                "The redirect URI at redemption differs from the one used to sign in.",
                "The organisation's redirect_uri in the server configuration must equal the "
                "one registered in Entra, character for character."},
    aadsts_info{700016, "application_not_found",
                "The application was not found in the organisation's directory.",
                "Check the Application (client) ID and Directory (tenant) ID you sent us; the "
                "app must be registered (or consented) in that tenant."},
    aadsts_info{65001, "consent_required", "The application has not been granted consent.",
                "An Entra admin must grant consent for openid, profile and email (Enterprise "
                "applications > Permissions > Grant admin consent)."},
    aadsts_info{50105, "user_not_assigned",
                "This user is not assigned to the application in Entra.",
                "Assign the user (or a group containing them) under Enterprise applications > "
                "Users and groups, or turn off 'Assignment required'."},
    // Confidential (web) registrations: client_secret_post and private_key_jwt.
    aadsts_info{7000215, "client_secret_invalid", "Entra refused the client secret.",
                "Under Certificates & secrets in the app registration, create a new client "
                "secret and send us its Value (not its Secret ID); the old one may have expired "
                "or been deleted."},
    aadsts_info{700027, "client_assertion_signature_invalid",
                "Entra could not verify the client assertion with a certificate of this "
                "application.",
                "Upload this organisation's certificate (the public .cer/.pem we gave you) under "
                "Certificates & secrets in the app registration. When we rotate it, upload the "
                "new one before removing the old."},
    aadsts_info{700024, "client_assertion_time_range",
                "Entra found the client assertion outside its validity period.",
                "Nothing to change in Entra: the server's clock is off. Synchronise it (NTP); "
                "the assertion is valid for 5 minutes from when it is made."},
    aadsts_info{700021, "client_assertion_issuer_mismatch",
                "The client assertion names a different application than the request.",
                "The organisation's client_id must be the Application (client) ID of the "
                "registration that holds the certificate."},
    aadsts_info{700023, "client_assertion_audience_mismatch",
                "The client assertion was addressed to another token endpoint.",
                "Check the Directory (tenant) ID and authority you sent us: the assertion is "
                "addressed to that tenant's token endpoint (a specific tenant, not 'common' or "
                "'organizations')."},
    aadsts_info{50048, "client_assertion_subject_mismatch",
                "The client assertion's subject differs from its issuer.",
                "Nothing to change in Entra: the server built a malformed assertion. Report it "
                "to us with the time of the failure."},
    aadsts_info{50027, "invalid_jwt", "Entra found a token in the request invalid or malformed.",
                "Nothing to change in Entra: try again. If it repeats, report it to us with the "
                "time of the failure (a replayed client assertion also gives this code)."},
    // Malformed requests, directory state and transient failures.
    aadsts_info{900144, "missing_parameter", "The request to Entra lacked a required parameter.",
                "Nothing to change in Entra: report it to us with the time of the failure."},
    aadsts_info{9002313, "malformed_request",
                "Entra found the request malformed or the sign-in code not valid for this "
                "application.",
                "Start the sign-in again. If it repeats, check that the Application (client) ID "
                "and tenant we use match the registration, then report it to us."},
    aadsts_info{70003, "unsupported_grant_type",
                "Entra refused the kind of token request the server made.",
                "Nothing to change in Entra: report it to us with the time of the failure."},
    aadsts_info{700054, "unsupported_response_type",
                "Entra refused the kind of sign-in response the server asked for.",
                "The server uses the authorization code flow only: check the registration allows "
                "it (no implicit-grant-only setup), then report it to us."},
    aadsts_info{9002325, "pkce_required",
                "Entra requires PKCE for this sign-in and did not receive it.",
                "Nothing to change in Entra: the server always sends PKCE, so something between "
                "the browser and Entra is altering the sign-in request."},
    aadsts_info{900561, "post_required", "Entra expected a POST request.",
                "Nothing to change in Entra: something between the server and Entra changed the "
                "request method; report it to us."},
    aadsts_info{90002, "tenant_not_found", "The organisation's Entra tenant was not found.",
                "Check the Directory (tenant) ID you sent us; the tenant may have been deleted "
                "or live in another Microsoft cloud."},
    aadsts_info{50034, "user_not_found",
                "This account does not exist in the organisation's directory.",
                "Create the user in the tenant (or invite them as a guest), and check the address "
                "they sign in with."},
    aadsts_info{50057, "user_disabled", "This user account is disabled in Entra.",
                "If the user should sign in, enable the account in Entra (Users > the user > "
                "Account enabled)."},
    aadsts_info{90033, "transient_error", "Entra had a temporary problem.",
                "Nothing to change in Entra: try again in a moment; check the Azure status page "
                "if it persists."},
    aadsts_info{0, "other", "The identity provider refused the sign-in.",
                "Look up the AADSTS code shown here in Microsoft's error reference; the Entra "
                "sign-in logs show the details."},
};

}  // namespace

std::span<const aadsts_info> aadsts_table() noexcept {
  return kRows;
}

const aadsts_info& aadsts_lookup(std::uint32_t code) noexcept {
  for (const auto& row : kRows)
    if (row.code == code && code != 0) return row;
  return kRows.back();
}

std::optional<std::uint32_t> find_aadsts_code(std::string_view text) noexcept {
  constexpr std::string_view kPrefix = "AADSTS";
  const auto at = text.find(kPrefix);
  if (at == std::string_view::npos) return std::nullopt;
  std::uint64_t value = 0;
  std::size_t digits = 0;
  for (std::size_t i = at + kPrefix.size(); i < text.size() && digits < 9; ++i, ++digits) {
    const char c = text[i];
    if (c < '0' || c > '9') break;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (digits == 0) return std::nullopt;
  return static_cast<std::uint32_t>(value);
}

}  // namespace oidc::server
