// The number of CPU threads Ember's kernels use (OpenMP and Eigen).
#pragma once

namespace ember {

int num_threads();
void set_num_threads(int n);

}  // namespace ember
