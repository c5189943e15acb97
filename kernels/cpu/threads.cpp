#include "engine/threads.h"

#include <Eigen/Core>

#include "engine/error.h"
#include "kernels/cpu/parallel.h"

namespace ember {

int num_threads() { return cpu_threads(); }

void set_num_threads(int n) {
  EMBER_CHECK(n >= 1, "set_num_threads", "thread count must be at least 1, got ", n);
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  Eigen::setNbThreads(n);
}

}  // namespace ember
