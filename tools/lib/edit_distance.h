// How far apart two names are, for "did you mean ...?" hints on mistyped
// flags, config keys and model names.
#pragma once

#include <string>
#include <vector>

namespace ember {

// Levenshtein distance: the fewest single-character insertions, deletions
// and substitutions that turn a into b.
size_t edit_distance(const std::string& a, const std::string& b);

// The candidate nearest to `word`, or "" when none is within max_distance
// edits (so a hint is only offered when it is plausibly what was meant).
std::string closest_name(const std::string& word, const std::vector<std::string>& candidates, size_t max_distance);

}  // namespace ember
