// Dataset: indexed (image, label) examples, and the combinators the source
// documents use with PyTorch: concatenation, subsets, a seeded random split
// by ratio, and class counts.
//
// label(i) is cheap (no decoding), so splits and counts never read images;
// image(i) decodes and throws ember::Error naming source(i) on bad input.
// Datasets are immutable after construction and safe to read from many
// loader threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/image.h"

namespace ember {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual int64_t label(int64_t i) const = 0;
  virtual Image image(int64_t i) const = 0;
  // Where example i comes from: a file path, or "file.bin[i]".
  virtual std::string source(int64_t i) const = 0;
  // Class names by label, when the dataset knows them.
  virtual std::vector<std::string> class_names() const { return {}; }

 protected:
  void check_index(int64_t i, const char* who) const;
};

using DatasetPtr = std::shared_ptr<const Dataset>;

// The datasets one after another (torch.utils.data.ConcatDataset); class
// names come from the first part that has them.
class ConcatDataset : public Dataset {
 public:
  explicit ConcatDataset(std::vector<DatasetPtr> parts);
  int64_t size() const override { return offsets_.back(); }
  int64_t label(int64_t i) const override;
  Image image(int64_t i) const override;
  std::string source(int64_t i) const override;
  std::vector<std::string> class_names() const override;

 private:
  std::pair<const Dataset*, int64_t> locate(int64_t i) const;
  std::vector<DatasetPtr> parts_;
  std::vector<int64_t> offsets_;  // prefix sums, offsets_[0] = 0
};

// The examples `indices` of `base`, in that order.
class Subset : public Dataset {
 public:
  Subset(DatasetPtr base, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  int64_t label(int64_t i) const override;
  Image image(int64_t i) const override;
  std::string source(int64_t i) const override;
  std::vector<std::string> class_names() const override { return base_->class_names(); }
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  DatasetPtr base_;
  std::vector<int64_t> indices_;
};

// Splits a seeded permutation of `base` into parts of the given lengths
// (summing to the size) or fractions (summing to 1; remainders go one each
// to the first parts, as torch.utils.data.random_split).
std::vector<DatasetPtr> random_split(const DatasetPtr& base, const std::vector<double>& lengths_or_fractions,
                                     uint64_t seed);
// (train, validation) with `val_ratio` of the examples in validation.
std::pair<DatasetPtr, DatasetPtr> train_val_split(const DatasetPtr& base, double val_ratio, uint64_t seed);

// Examples per label (index = label; size = max label + 1).
std::vector<int64_t> class_counts(const Dataset& d);

}  // namespace ember
