#include "data/datasets/memory_datasets.h"

#include <cstring>
#include <utility>

#include "data/decode.h"
#include "data/idx_file.h"
#include "engine/error.h"

namespace ember {

IdxDataset::IdxDataset(const std::string& images_path, const std::string& labels_path,
                       std::vector<std::string> class_names)
    : path_(images_path), class_names_(std::move(class_names)) {
  Tensor images = read_idx(images_path), labels = read_idx(labels_path);
  EMBER_CHECK(images.dtype() == DType::UInt8 && (images.dim() == 3 || images.dim() == 4), "IdxDataset", images_path,
              ": expected uint8 images [N, H, W] or [N, H, W, C], got ", images.shape());
  EMBER_CHECK(labels.dim() == 1 && labels.size(0) == images.size(0), "IdxDataset", labels_path, ": ",
              labels.shape(), " labels for ", images.size(0), " images in ", images_path);
  n_ = images.size(0);
  h_ = static_cast<int>(images.size(1));
  w_ = static_cast<int>(images.size(2));
  c_ = images.dim() == 4 ? static_cast<int>(images.size(3)) : 1;
  pixels_.resize(static_cast<size_t>(images.numel()));
  std::memcpy(pixels_.data(), images.contiguous().data_ptr(), pixels_.size());
  labels_ = labels.to(DType::Int64).to_vector<int64_t>();
}

int64_t IdxDataset::label(int64_t i) const {
  check_index(i, "IdxDataset");
  return labels_[static_cast<size_t>(i)];
}

Image IdxDataset::image(int64_t i) const {
  check_index(i, "IdxDataset");
  Image img(h_, w_, c_);
  std::memcpy(img.pixels.data(), pixels_.data() + static_cast<size_t>(i) * img.pixels.size(), img.pixels.size());
  return img;
}

std::string IdxDataset::source(int64_t i) const { return path_ + "[" + std::to_string(i) + "]"; }

CifarDataset::CifarDataset(const std::vector<std::string>& files, int classes, bool coarse) {
  EMBER_CHECK(classes == 10 || classes == 100, "CifarDataset", "classes must be 10 or 100, got ", classes);
  EMBER_CHECK(!files.empty(), "CifarDataset", "no files given");
  const size_t label_bytes = classes == 10 ? 1 : 2, record = label_bytes + 3072;
  for (const std::string& f : files) {
    std::vector<uint8_t> bytes = read_file_bytes(f);
    if (bytes.empty() || bytes.size() % record != 0)
      fail("CifarDataset", f, ": ", bytes.size(), " bytes is not a whole number of ", record,
           "-byte CIFAR-", classes, " records (truncated, or the wrong CIFAR variant?)");
    for (size_t r = 0; r < bytes.size() / record; ++r) {
      const uint8_t* rec = bytes.data() + r * record;
      int64_t lab = classes == 10 ? rec[0] : (coarse ? rec[0] : rec[1]);
      if (lab >= classes) fail("CifarDataset", f, ": record ", r, " has label ", lab, " >= ", classes);
      labels_.push_back(lab);
      sources_.push_back(f);
      record_in_file_.push_back(static_cast<int64_t>(r));
      planar_.insert(planar_.end(), rec + label_bytes, rec + record);
    }
  }
}

int64_t CifarDataset::label(int64_t i) const {
  check_index(i, "CifarDataset");
  return labels_[static_cast<size_t>(i)];
}

Image CifarDataset::image(int64_t i) const {
  check_index(i, "CifarDataset");
  Image img(32, 32, 3);
  const uint8_t* p = planar_.data() + static_cast<size_t>(i) * 3072;
  for (int k = 0; k < 1024; ++k)
    for (int c = 0; c < 3; ++c) img.pixels[static_cast<size_t>(k * 3 + c)] = p[c * 1024 + k];
  return img;
}

std::string CifarDataset::source(int64_t i) const {
  check_index(i, "CifarDataset");
  return sources_[static_cast<size_t>(i)] + "[" + std::to_string(record_in_file_[static_cast<size_t>(i)]) + "]";
}

}  // namespace ember
