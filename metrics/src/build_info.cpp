// SPDX-License-Identifier: Apache-2.0
// Version and commit of this build, defined by metrics/CMakeLists.txt for this file only.
#include "oidc/metrics/server_metrics.hpp"

#ifndef OIDC_VERSION
#define OIDC_VERSION "unknown"
#endif
#ifndef OIDC_GIT_COMMIT
#define OIDC_GIT_COMMIT "unknown"
#endif

namespace oidc::metrics {

std::string_view build_version() noexcept {
  return OIDC_VERSION;
}
std::string_view build_commit() noexcept {
  return OIDC_GIT_COMMIT;
}

}  // namespace oidc::metrics
