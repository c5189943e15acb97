#include <algorithm>
#include <cmath>
#include <numeric>

#include "data/augment/rng.h"
#include "data/dataset.h"
#include "engine/error.h"

namespace ember {

void Dataset::check_index(int64_t i, const char* who) const {
  EMBER_CHECK(i >= 0 && i < size(), who, "index ", i, " is out of range for a dataset of ", size(), " examples");
}

ConcatDataset::ConcatDataset(std::vector<DatasetPtr> parts) : parts_(std::move(parts)) {
  EMBER_CHECK(!parts_.empty(), "ConcatDataset", "needs at least one dataset");
  offsets_.push_back(0);
  for (const DatasetPtr& p : parts_) {
    EMBER_CHECK(p != nullptr, "ConcatDataset", "a part is null");
    offsets_.push_back(offsets_.back() + p->size());
  }
}

std::pair<const Dataset*, int64_t> ConcatDataset::locate(int64_t i) const {
  check_index(i, "ConcatDataset");
  size_t k = static_cast<size_t>(std::upper_bound(offsets_.begin(), offsets_.end(), i) - offsets_.begin()) - 1;
  return {parts_[k].get(), i - offsets_[k]};
}
int64_t ConcatDataset::label(int64_t i) const { auto [d, j] = locate(i); return d->label(j); }
Image ConcatDataset::image(int64_t i) const { auto [d, j] = locate(i); return d->image(j); }
std::string ConcatDataset::source(int64_t i) const { auto [d, j] = locate(i); return d->source(j); }
std::vector<std::string> ConcatDataset::class_names() const {
  for (const DatasetPtr& p : parts_)
    if (auto n = p->class_names(); !n.empty()) return n;
  return {};
}

Subset::Subset(DatasetPtr base, std::vector<int64_t> indices) : base_(std::move(base)), indices_(std::move(indices)) {
  EMBER_CHECK(base_ != nullptr, "Subset", "the base dataset is null");
  for (int64_t i : indices_)
    EMBER_CHECK(i >= 0 && i < base_->size(), "Subset", "index ", i, " is out of range for ", base_->size(), " examples");
}
int64_t Subset::label(int64_t i) const { check_index(i, "Subset"); return base_->label(indices_[static_cast<size_t>(i)]); }
Image Subset::image(int64_t i) const { check_index(i, "Subset"); return base_->image(indices_[static_cast<size_t>(i)]); }
std::string Subset::source(int64_t i) const { check_index(i, "Subset"); return base_->source(indices_[static_cast<size_t>(i)]); }

std::vector<DatasetPtr> random_split(const DatasetPtr& base, const std::vector<double>& parts, uint64_t seed) {
  const int64_t n = base->size();
  EMBER_CHECK(!parts.empty(), "random_split", "needs at least one length or fraction");
  std::vector<int64_t> lengths;
  double total = std::accumulate(parts.begin(), parts.end(), 0.0);
  if (std::abs(total - 1.0) < 1e-9 && n != 1) {
    for (double f : parts) {
      EMBER_CHECK(f >= 0, "random_split", "fractions must be >= 0");
      lengths.push_back(static_cast<int64_t>(std::floor(n * f)));
    }
    int64_t rest = n - std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
    for (size_t i = 0; rest > 0; i = (i + 1) % lengths.size(), --rest) ++lengths[i];
  } else {
    for (double l : parts) lengths.push_back(static_cast<int64_t>(l));
    EMBER_CHECK(std::accumulate(lengths.begin(), lengths.end(), int64_t{0}) == n, "random_split", "lengths sum to ",
                total, " but the dataset has ", n, " examples");
  }
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  Rng rng(seed, 0x5eed);
  for (int64_t i = n - 1; i > 0; --i) std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(rng.randint(0, i))]);
  std::vector<DatasetPtr> out;
  int64_t at = 0;
  for (int64_t len : lengths) {
    out.push_back(std::make_shared<Subset>(base, std::vector<int64_t>(perm.begin() + at, perm.begin() + at + len)));
    at += len;
  }
  return out;
}

std::pair<DatasetPtr, DatasetPtr> train_val_split(const DatasetPtr& base, double val_ratio, uint64_t seed) {
  EMBER_CHECK(val_ratio >= 0 && val_ratio <= 1, "train_val_split", "val_ratio must be in [0, 1], got ", val_ratio);
  const int64_t n = base->size(), val = static_cast<int64_t>(std::floor(n * val_ratio));
  auto parts = random_split(base, {static_cast<double>(n - val), static_cast<double>(val)}, seed);
  return {parts[0], parts[1]};
}

std::vector<int64_t> class_counts(const Dataset& d) {
  std::vector<int64_t> counts;
  for (int64_t i = 0; i < d.size(); ++i) {
    int64_t l = d.label(i);
    EMBER_CHECK(l >= 0, "class_counts", d.source(i), " has negative label ", l);
    if (static_cast<size_t>(l) >= counts.size()) counts.resize(static_cast<size_t>(l) + 1, 0);
    ++counts[static_cast<size_t>(l)];
  }
  return counts;
}

}  // namespace ember
