#include "data/datasets/file_datasets.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "engine/error.h"

namespace fs = std::filesystem;

namespace ember {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

void require_folder(const std::string& dir, const char* who) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail(who, dir, ": no such folder");
  if (!fs::is_directory(dir, ec)) fail(who, dir, ": not a folder");
}

}  // namespace

int64_t FileListDataset::label(int64_t i) const {
  check_index(i, "dataset");
  return labels_[static_cast<size_t>(i)];
}

Image FileListDataset::image(int64_t i) const {
  check_index(i, "dataset");
  return read_image(files_[static_cast<size_t>(i)], options_.decode);
}

std::string FileListDataset::source(int64_t i) const {
  check_index(i, "dataset");
  return files_[static_cast<size_t>(i)];
}

bool FileListDataset::has_image_extension(const std::string& path) const {
  const std::string l = lower(path);
  for (const std::string& e : options_.extensions)
    if (l.size() > e.size() && l.ends_with(e)) return true;
  return false;
}

int64_t FileListDataset::add_folder(const std::string& dir, int64_t label) {
  // torchvision walks os.walk(followlinks=True) with sorted names; a sorted
  // list of full paths gives the same order for names without '/' quirks.
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
       it != end; it.increment(ec)) {
    if (ec) fail("dataset", dir, ": cannot list (", ec.message(), ")");
    if (!it->is_regular_file(ec)) continue;
    const std::string p = it->path().string();
    if (has_image_extension(p))
      found.push_back(p);
    else
      skipped_.push_back(p);
  }
  if (ec) fail("dataset", dir, ": cannot list (", ec.message(), ")");
  std::sort(found.begin(), found.end());
  for (std::string& f : found) {
    files_.push_back(std::move(f));
    labels_.push_back(label);
  }
  return static_cast<int64_t>(found.size());
}

ImageFolder::ImageFolder(const std::string& root, FileDatasetOptions options) : FileListDataset(std::move(options)) {
  require_folder(root, "ImageFolder");
  for (const fs::directory_entry& e : fs::directory_iterator(root))
    if (e.is_directory()) classes_.push_back(e.path().filename().string());
  std::sort(classes_.begin(), classes_.end());
  if (classes_.empty()) fail("ImageFolder", root, ": no class folders (expected root/<class>/<image files>)");
  std::vector<std::string> empty;
  for (size_t c = 0; c < classes_.size(); ++c)
    if (add_folder((fs::path(root) / classes_[c]).string(), static_cast<int64_t>(c)) == 0) empty.push_back(classes_[c]);
  if (!empty.empty() && !options_.allow_empty_classes) {
    std::string names;
    for (const std::string& n : empty) names += (names.empty() ? "" : ", ") + n;
    fail("ImageFolder", root, ": no image files (.jpg, .jpeg, .png, .bmp) in the class folder(s) ", names);
  }
}

FixedLabelFolder::FixedLabelFolder(const std::string& root, int64_t label, FileDatasetOptions options)
    : FileListDataset(std::move(options)) {
  require_folder(root, "FixedLabelFolder");
  EMBER_CHECK(label >= 0, "FixedLabelFolder", root, ": label must be >= 0, got ", label);
  if (add_folder(root, label) == 0) fail("FixedLabelFolder", root, ": no image files (.jpg, .jpeg, .png, .bmp)");
}

CsvImageList::CsvImageList(const std::string& csv_path, FileDatasetOptions options, const std::string& image_root)
    : FileListDataset(std::move(options)) {
  std::ifstream f(csv_path);
  if (!f) fail("CsvImageList", csv_path, ": cannot open");
  const fs::path root = image_root.empty() ? fs::path(csv_path).parent_path() : fs::path(image_root);
  std::string line;
  for (int64_t n = 1; std::getline(f, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    size_t comma = line.rfind(',');
    if (comma == std::string::npos) fail("CsvImageList", csv_path, ":", n, ": expected path,label, got \"", line, "\"");
    std::string path = line.substr(0, comma), lab = line.substr(comma + 1);
    auto trim = [](std::string& s) {
      s.erase(0, s.find_first_not_of(" \t\""));
      s.erase(s.find_last_not_of(" \t\"") + 1);
    };
    trim(path);
    trim(lab);
    size_t used = 0;
    int64_t label = -1;
    try {
      label = std::stoll(lab, &used);
    } catch (...) {
      used = 0;
    }
    if (used != lab.size() || lab.empty()) {
      if (n == 1 && files_.empty()) continue;  // a header line
      fail("CsvImageList", csv_path, ":", n, ": label \"", lab, "\" is not an integer");
    }
    if (label < 0) fail("CsvImageList", csv_path, ":", n, ": label ", label, " is negative");
    fs::path p(path);
    files_.push_back((p.is_absolute() ? p : root / p).string());
    labels_.push_back(label);
  }
  if (files_.empty()) fail("CsvImageList", csv_path, ": no path,label lines");
}

}  // namespace ember
