// The configuration of `ember train`: one schema lists every option with
// its type, default and meaning. The same schema parses config files (JSON
// or YAML), applies command-line overrides (`--set optimizer.lr=3e-4` and
// the shortcut flags), rejects unknown keys with a suggestion ("did you mean
// 'optimizer.weight_decay'?"), and prints the reference for --help-config.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ember {

struct ConfigOption {
  std::string key;       // dotted path: "optimizer.lr"
  std::string type;      // "string", "int", "float", "bool", "list", "object", "any"
  nlohmann::json fallback;  // the default
  std::string help;
};

// Every option of `ember train`, in the order --help-config prints them.
const std::vector<ConfigOption>& train_config_schema();

// A complete configuration: every schema key present (defaults filled in).
class TrainConfig {
 public:
  TrainConfig();  // all defaults
  // Merges a parsed config file (nested JSON objects) over the current
  // values; `source` names the file in errors.
  void merge(const nlohmann::json& j, const std::string& source);
  // Applies one "key=value" override; the value is parsed as JSON when it
  // can be (numbers, true/false, [lists]) and taken as a string otherwise.
  void set(const std::string& assignment);
  void set(const std::string& key, const nlohmann::json& value, const std::string& source);

  const nlohmann::json& get(const std::string& key) const;
  std::string str(const std::string& key) const;
  int64_t i64(const std::string& key) const;
  double f64(const std::string& key) const;
  bool flag(const std::string& key) const;
  bool is_set(const std::string& key) const;  // not null / not an empty string

  // The whole configuration as nested JSON (what a run saves as config.json).
  nlohmann::json to_json() const;

 private:
  nlohmann::json values_;  // flat: dotted key -> value
};

// The reference table printed by `ember train --help-config`.
std::string train_config_reference();

}  // namespace ember
