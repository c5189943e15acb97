// Datasets held in memory, decoded from binary files once:
//   IdxDataset    MNIST / Fashion-MNIST IDX files (gzip or plain), grey.
//   CifarDataset  the CIFAR-10 / CIFAR-100 binary batches ("data_batch_1.bin"
//                 ...): records of label byte(s) + 3x32x32 planar RGB.
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"

namespace ember {

class IdxDataset : public Dataset {
 public:
  // class_names: optional names of the labels (Fashion-MNIST's, say).
  IdxDataset(const std::string& images_path, const std::string& labels_path,
             std::vector<std::string> class_names = {});
  int64_t size() const override { return n_; }
  std::vector<std::string> class_names() const override { return class_names_; }
  int64_t label(int64_t i) const override;
  Image image(int64_t i) const override;
  std::string source(int64_t i) const override;

 private:
  std::string path_;
  int64_t n_ = 0;
  int h_ = 0, w_ = 0, c_ = 1;
  std::vector<uint8_t> pixels_;
  std::vector<int64_t> labels_;
  std::vector<std::string> class_names_;
};

class CifarDataset : public Dataset {
 public:
  // classes: 10 (1 label byte) or 100 (coarse and fine label bytes; the
  // fine label is used unless `coarse`).
  CifarDataset(const std::vector<std::string>& files, int classes = 10, bool coarse = false);
  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int64_t label(int64_t i) const override;
  Image image(int64_t i) const override;
  std::string source(int64_t i) const override;

 private:
  std::vector<std::string> sources_;  // file per record
  std::vector<int64_t> record_in_file_;
  std::vector<uint8_t> planar_;       // N x 3 x 32 x 32
  std::vector<int64_t> labels_;
};

}  // namespace ember
