#include "engine/backend_config.h"

namespace ember {

BackendConfig& backend_config() {
  static BackendConfig config;
  return config;
}

}  // namespace ember
