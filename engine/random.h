// Seeded random-number state. Ember draws with the counter-based Philox4x32-10
// generator: a draw of n values uses (seed, offset) and advances offset by
// one, and value i depends only on seed, offset and i. CPU and CUDA kernels
// therefore produce the same numbers, in any thread order, and the state is
// two integers that a checkpoint can save.
#pragma once

#include <cstdint>

namespace ember {

struct GeneratorState {
  uint64_t seed = 0;
  uint64_t offset = 0;
};

class Generator {
 public:
  explicit Generator(uint64_t seed = 67280421310721ull) : state_{seed, 0} {}
  void manual_seed(uint64_t seed) { state_ = {seed, 0}; }
  uint64_t seed() const { return state_.seed; }
  GeneratorState state() const { return state_; }
  void set_state(GeneratorState s) { state_ = s; }
  // Reserves the next stream of numbers and returns its offset.
  uint64_t next_offset() { return state_.offset++; }

 private:
  GeneratorState state_;
};

// The process-wide generator used when an op is given none.
Generator& default_generator();
// Seeds the default generator (torch.manual_seed).
void manual_seed(uint64_t seed);

}  // namespace ember
