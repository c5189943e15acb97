// Datasets of image files:
//   ImageFolder       root/<class>/**/<file>, one class per subfolder, classes
//                     sorted by name and files sorted within each folder, as
//                     torchvision's ImageFolder; only files whose extension
//                     (any case) is an image extension are taken.
//   FixedLabelFolder  every image under a folder with one given label (the
//                     source documents' summer=0 / winter=1 folders,
//                     combined with ConcatDataset).
//   CsvImageList      a CSV of path,label lines (a header line is allowed;
//                     relative paths are relative to the CSV's folder).
// Files are listed when the dataset is built and decoded in image(i).
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/decode.h"

namespace ember {

struct FileDatasetOptions {
  // Lower-case, with the dot; the formats Ember decodes.
  std::vector<std::string> extensions = {".jpg", ".jpeg", ".png", ".bmp"};
  DecodeOptions decode;             // channels, reduced-size JPEG decoding
  bool allow_empty_classes = false; // ImageFolder: an empty class folder is an error unless set
};

// A file list with labels; the common base of the three datasets.
class FileListDataset : public Dataset {
 public:
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  int64_t label(int64_t i) const override;
  Image image(int64_t i) const override;
  std::string source(int64_t i) const override;
  std::vector<std::string> class_names() const override { return classes_; }
  // Files under the root that were not taken (not an image extension).
  const std::vector<std::string>& skipped_files() const { return skipped_; }

 protected:
  explicit FileListDataset(FileDatasetOptions o) : options_(std::move(o)) {}
  bool has_image_extension(const std::string& path) const;
  // Appends every image file under `dir` (recursively, sorted) with `label`;
  // returns how many.
  int64_t add_folder(const std::string& dir, int64_t label);

  FileDatasetOptions options_;
  std::vector<std::string> files_, classes_, skipped_;
  std::vector<int64_t> labels_;
};

class ImageFolder : public FileListDataset {
 public:
  explicit ImageFolder(const std::string& root, FileDatasetOptions options = {});
};

class FixedLabelFolder : public FileListDataset {
 public:
  FixedLabelFolder(const std::string& root, int64_t label, FileDatasetOptions options = {});
};

class CsvImageList : public FileListDataset {
 public:
  explicit CsvImageList(const std::string& csv_path, FileDatasetOptions options = {},
                        const std::string& image_root = "");
};

}  // namespace ember
