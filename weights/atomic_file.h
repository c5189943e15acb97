// Atomic file replacement: write to a temporary file in the destination's
// folder, flush it to disk, then rename it over the destination. A reader
// (or a run killed halfway) sees either the old file or the new one, never
// a partial write.
#pragma once

#include <functional>
#include <string>

namespace ember {

// Calls write(tmp_path) to produce the file at a temporary path beside
// `path`, then renames it to `path`. On any failure (write throws, fsync
// or rename fails) the temporary file is removed and ember::Error names
// `op` and `path`.
void write_file_atomically(const std::string& path, const char* op,
                           const std::function<void(const std::string& tmp_path)>& write);

}  // namespace ember
