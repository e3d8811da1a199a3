// SPDX-License-Identifier: Apache-2.0
// Entra AADSTS error codes → a bounded reason key and what the customer's Entra admin must change
// (https://learn.microsoft.com/entra/identity-platform/reference-error-codes). Every code the
// mock IdP emits (loadtest/mock-idp/src/entra_error_codes.hpp) has its own row, which
// tests/server/aadsts_test.cpp checks; the keys are the bounded set metrics name.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace oidc::server {

struct aadsts_info {
  std::uint32_t code;          // 0 for "other"
  std::string_view key;        // bounded snake_case label (metrics, logs, JSON)
  std::string_view summary;    // what happened, for the user
  std::string_view admin_fix;  // what the Entra admin must change
};

// Every known row; the last one is "other".
std::span<const aadsts_info> aadsts_table() noexcept;

// The row of `code`; the "other" row when unknown.
const aadsts_info& aadsts_lookup(std::uint32_t code) noexcept;

// The first "AADSTS<digits>" in an error_description (Entra puts it first); nullopt when none.
std::optional<std::uint32_t> find_aadsts_code(std::string_view error_description) noexcept;

}  // namespace oidc::server
