// SPDX-License-Identifier: Apache-2.0
// Configuration files: any text yields a snapshot or a list of errors, never a crash.
#include <optional>
#include <string>
#include <string_view>

#include "oidc/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  oidc::config_environment env;
  env.config_dir = "/etc/oidc-callback-server";
  env.getenv = [](std::string_view name) -> std::optional<std::string> {
    if (name == "COOKIE_KEY") return std::string(43, 'A');
    return std::nullopt;
  };
  (void)oidc::parse_config(text, env);
  return 0;
}
