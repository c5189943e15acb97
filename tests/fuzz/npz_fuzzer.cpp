// libFuzzer target: arbitrary bytes as an .npz archive (and as a bare .npy
// file). The readers must either return tensors or throw ember::Error:
// never crash, leak, read out of bounds or allocate without bound.
#include <cstddef>
#include <cstdint>

#include "engine/error.h"
#include "weights/npy.h"
#include "weights/npz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    ember::parse_npz(data, size, "fuzz.npz");
  } catch (const ember::Error&) {
  }
  try {
    ember::parse_npy(data, size, "fuzz.npy");
  } catch (const ember::Error&) {
  }
  return 0;
}
