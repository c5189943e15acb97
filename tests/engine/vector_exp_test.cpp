// The AVX2 exp of kernels/cpu/vector_exp.h against double-precision libm:
// within 3 float ulps over float's normal range, and the edges (0 below the
// normal range, +inf above, NaN through) as documented.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/cpu/vector_exp.h"

namespace ember {
namespace {

#ifdef EMBER_HAVE_VECTOR_EXP
float exp_lane(float x) {
  alignas(32) float in[8], out[8];
  for (float& v : in) v = x;
  _mm256_store_ps(out, exp8(_mm256_load_ps(in)));
  for (int i = 1; i < 8; ++i) EXPECT_TRUE(out[i] == out[0] || (std::isnan(out[i]) && std::isnan(out[0])));
  return out[0];
}
#endif

TEST(VectorExp, WithinThreeUlpsAndEdges) {
#ifndef EMBER_HAVE_VECTOR_EXP
  GTEST_SKIP() << "built without AVX2/FMA: the kernels use std::exp";
#else
  double worst = 0;
  for (double x = -87.0; x < 88.7; x += 0.00137) {
    const float xf = static_cast<float>(x);
    const double want = std::exp(static_cast<double>(xf));
    const float wf = static_cast<float>(want);
    const double ulp = std::nextafter(wf, std::numeric_limits<float>::infinity()) - wf;
    worst = std::max(worst, std::abs(exp_lane(xf) - want) / ulp);
  }
  EXPECT_LE(worst, 3.0);
  std::printf("[ exp8 ] worst error over [-87, 88.7]: %.2f ulp\n", worst);
  EXPECT_EQ(exp_lane(0.0f), 1.0f);
  EXPECT_EQ(exp_lane(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(exp_lane(-100.0f), 0.0f);
  EXPECT_EQ(exp_lane(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_EQ(exp_lane(89.0f), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(exp_lane(std::numeric_limits<float>::quiet_NaN())));
#endif
}

}  // namespace
}  // namespace ember
