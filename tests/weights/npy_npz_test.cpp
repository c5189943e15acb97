// .npy / .npz: round trips of every dtype, files written by NumPy (made at
// test time), files read back by NumPy, and the bad inputs that must end
// in a clear error naming the file (and the array inside an .npz).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/ember.h"
#include "tests/support/oracle.h"
#include "tests/weights/weights_test_util.h"
#include "weights/npy.h"
#include "weights/npz.h"

namespace ember::test {
namespace {

const std::vector<DType> kDTypes = {DType::Float32, DType::Float64, DType::Float16, DType::Int64,
                                    DType::Int32,   DType::UInt8,   DType::Bool};

// The value of element i in every test array (the Python side uses the same rule).
double value_at(DType t, int64_t i) {
  switch (t) {
    case DType::Float32: case DType::Float64: case DType::Float16: return (i % 17) * 0.25 - 2;
    case DType::Int64: return static_cast<double>(i * (int64_t{1} << 33) - 5);
    case DType::Int32: return static_cast<double>(i * 7 - 11);
    case DType::UInt8: return static_cast<double>((i * 37) % 256);
    default: return i % 3 == 0 ? 1 : 0;
  }
}

const char* kPyValues = R"(
import numpy as np
def values(name, shape):
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.int64)
    if name in ('float32', 'float64', 'float16'):
        v = (i % 17) * 0.25 - 2
    elif name == 'int64':
        v = i * (1 << 33) - 5
    elif name == 'int32':
        v = i * 7 - 11
    elif name == 'uint8':
        v = (i * 37) % 256
    else:
        v = i % 3 == 0
    return v.astype({'bool': np.bool_}.get(name, name)).reshape(shape)
NAMES = ['float32', 'float64', 'float16', 'int64', 'int32', 'uint8', 'bool']
)";

Tensor make(DType t, const Shape& shape) {
  const int64_t n = shape_numel(shape);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = value_at(t, i);
  return from_vector(v, shape).to(t);
}

void expect_values(const Tensor& t, DType dtype, const Shape& shape, const std::string& what) {
  ASSERT_EQ(t.dtype(), dtype) << what;
  ASSERT_EQ(t.shape(), shape) << what;
  std::vector<double> got = t.to(DType::Float64).contiguous().to_vector<double>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    ASSERT_EQ(got[static_cast<size_t>(i)], value_at(dtype, i)) << what << " element " << i;
  }
}

TEST(Npy, RoundTripEveryDtypeAndShape) {
  TempDir dir;
  for (DType t : kDTypes) {
    for (const Shape& shape : std::vector<Shape>{{}, {0}, {5}, {2, 3, 4}, {3, 0, 2}, {1, 1, 1, 7}}) {
      const std::string path = dir.file("a.npy");
      save_npy(path, make(t, shape));
      expect_values(load_npy(path), t, shape, std::string(dtype_name(t)) + " " + shape_str(shape));
    }
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path), {}), 1) << "a temporary file was left";
}

TEST(Npy, NonContiguousAndHeaderAlignment) {
  TempDir dir;
  Tensor x = make(DType::Float32, {3, 4}).t();  // a transposed view: saved in C order
  save_npy(dir.file("t.npy"), x);
  Tensor y = load_npy(dir.file("t.npy"));
  EXPECT_EQ(y.shape(), (Shape{4, 3}));
  EXPECT_EQ(relative_error(y, x.contiguous()), 0);
  // NumPy aligns the data to 64 bytes.
  const std::string header = npy_header(x, "t");
  EXPECT_EQ(header.size() % 64, 0u);
  EXPECT_EQ(header.back(), '\n');
  expect_error([&] { save_npy(dir.file("b.npy"), make(DType::Float32, {2}).to(DType::BFloat16)); }, {"b.npy", "bfloat16"});
  expect_error([&] { save_npy(dir.file("missing/x.npy"), x); }, {"missing", "does not exist"});
}

TEST(Npz, RoundTripStoredAndCompressedKeepsOrder) {
  TempDir dir;
  NamedTensors arrays;
  for (DType t : kDTypes) arrays.emplace_back(std::string("layer.") + dtype_name(t), make(t, {2, 3}));
  arrays.emplace_back("z.scalar", make(DType::Float32, {}));
  arrays.emplace_back("a.empty", make(DType::Int64, {0, 4}));
  for (bool compress : {false, true}) {
    const std::string path = dir.file(compress ? "c.npz" : "s.npz");
    save_npz(path, arrays, compress);
    NamedTensors back = load_npz(path);
    ASSERT_EQ(back.size(), arrays.size());
    for (size_t i = 0; i < arrays.size(); ++i) {
      EXPECT_EQ(back[i].first, arrays[i].first);
      expect_values(back[i].second, arrays[i].second.dtype(), arrays[i].second.shape(), back[i].first);
    }
  }
  save_npz(dir.file("empty.npz"), {});
  EXPECT_TRUE(load_npz(dir.file("empty.npz")).empty());
  expect_error([&] { save_npz(dir.file("d.npz"), {{"a", ones({1})}, {"a", ones({1})}}); }, {"d.npz", "'a' appears twice"});
  expect_error([&] { to_map({{"a", ones({1})}, {"a", ones({1})}}, "m.npz"); }, {"m.npz", "'a'"});
}

TEST(Npy, ReadsFilesWrittenByNumPy) {
  EMBER_REQUIRE_PYTHON("numpy");
  TempDir dir;
  PyResult r = run_python(std::string(kPyValues) + R"(
for name in NAMES:
    np.save(name + '.npy', values(name, (2, 3, 4)))
np.save('scalar.npy', values('float32', ()))
np.save('empty.npy', np.zeros((0, 3), np.float32))
for version in [(1, 0), (2, 0), (3, 0)]:
    with open('v%d.npy' % version[0], 'wb') as f:
        np.lib.format.write_array(f, values('float64', (5,)), version=version)
np.savez('stored.npz', **{'conv1.weight': values('float32', (2, 3, 4)), 'bn.num_batches_tracked': values('int64', ()),
                          'mask': values('bool', (7,))})
np.savez_compressed('compressed.npz', **{n: values(n, (3, 2)) for n in NAMES})
print('ok')
)", dir.path.string());
  ASSERT_EQ(r.status, 0) << r.output;
  for (DType t : kDTypes) {
    expect_values(load_npy(dir.file(std::string(dtype_name(t)) + ".npy")), t, {2, 3, 4}, dtype_name(t));
  }
  expect_values(load_npy(dir.file("scalar.npy")), DType::Float32, {}, "scalar");
  expect_values(load_npy(dir.file("empty.npy")), DType::Float32, {0, 3}, "empty");
  for (int v = 1; v <= 3; ++v) expect_values(load_npy(dir.file("v" + std::to_string(v) + ".npy")), DType::Float64, {5}, "version");

  NamedTensors s = load_npz(dir.file("stored.npz"));
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].first, "conv1.weight");
  EXPECT_EQ(s[1].first, "bn.num_batches_tracked");
  EXPECT_EQ(s[2].first, "mask");
  expect_values(s[0].second, DType::Float32, {2, 3, 4}, "conv1.weight");
  expect_values(s[1].second, DType::Int64, {}, "num_batches_tracked");
  expect_values(s[2].second, DType::Bool, {7}, "mask");
  NamedTensors c = load_npz(dir.file("compressed.npz"));
  ASSERT_EQ(c.size(), kDTypes.size());
  for (size_t i = 0; i < kDTypes.size(); ++i) {
    EXPECT_EQ(c[i].first, dtype_name(kDTypes[i]));
    expect_values(c[i].second, kDTypes[i], {3, 2}, c[i].first);
  }
}

TEST(Npy, NumPyReadsFilesWrittenByEmber) {
  EMBER_REQUIRE_PYTHON("numpy");
  TempDir dir;
  NamedTensors arrays;
  for (DType t : kDTypes) {
    save_npy(dir.file(std::string(dtype_name(t)) + ".npy"), make(t, {4, 5}));
    arrays.emplace_back(dtype_name(t), make(t, {4, 5}));
  }
  save_npz(dir.file("s.npz"), arrays, false);
  save_npz(dir.file("c.npz"), arrays, true);
  PyResult r = run_python(std::string(kPyValues) + R"(
for name in NAMES:
    a = np.load(name + '.npy')
    assert a.dtype == values(name, (1,)).dtype and a.shape == (4, 5), (name, a.dtype, a.shape)
    assert (a == values(name, (4, 5))).all(), name
for f in ['s.npz', 'c.npz']:
    z = np.load(f)
    assert list(z.keys()) == NAMES, list(z.keys())
    for name in NAMES:
        assert (z[name] == values(name, (4, 5))).all() and z[name].dtype == values(name, (1,)).dtype, (f, name)
print('ok')
)", dir.path.string());
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST(Npy, BadFilesEndInClearErrors) {
  EMBER_REQUIRE_PYTHON("numpy");
  TempDir dir;
  PyResult r = run_python(std::string(kPyValues) + R"(
import zipfile
np.save('fortran.npy', np.asfortranarray(values('float32', (3, 4))))
np.save('bigendian.npy', values('float32', (3,)).astype('>f4'))
np.save('int16.npy', np.arange(4, dtype=np.int16))
np.save('complex.npy', np.arange(4, dtype=np.complex64))
np.save('structured.npy', np.zeros(3, dtype=[('a', '<f4'), ('b', '<i4')]))
np.save('good.npy', values('float32', (10, 10)))
data = open('good.npy', 'rb').read()
open('truncated.npy', 'wb').write(data[:-5])
open('header_only.npy', 'wb').write(data[:40])
open('text.npy', 'w').write('hello, not numpy\n' * 10)
open('text.npz', 'w').write('this is a text file renamed .npz\n' * 10)
np.savez('good.npz', w=values('float32', (50,)), b=values('float32', (3,)))
z = bytearray(open('good.npz', 'rb').read())
i = z.find(b'NUMPY', 60)  # the second entry's data: flip bytes so its CRC fails
z[i + 130] ^= 0xFF  # past the 128-byte .npy header
open('crc.npz', 'wb').write(bytes(z))
z = open('good.npz', 'rb').read()
open('truncated.npz', 'wb').write(z[: len(z) // 2])
with zipfile.ZipFile('garbage_entry.npz', 'w') as f:
    f.writestr('w.npy', b'\x93NUMPY\x01\x00\x10\x00{"descr": <f4}  \n')
with zipfile.ZipFile('not_npy.npz', 'w') as f:
    f.writestr('readme.txt', 'hello')
print('ok')
)", dir.path.string());
  ASSERT_EQ(r.status, 0) << r.output;
  auto npy = [&](const std::string& name, std::initializer_list<std::string> fragments) {
    std::vector<std::string> all(fragments);
    const std::string path = dir.file(name);
    try {
      load_npy(path);
      ADD_FAILURE() << name << ": no error";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      for (const auto& f : all) EXPECT_NE(msg.find(f), std::string::npos) << name << ": " << msg;
    }
  };
  npy("fortran.npy", {"Fortran"});
  npy("bigendian.npy", {"big-endian"});
  npy("int16.npy", {"unsupported dtype '<i2'"});
  npy("complex.npy", {"unsupported dtype '<c8'"});
  npy("structured.npy", {"structured"});
  npy("truncated.npy", {"truncated"});
  npy("header_only.npy", {"truncated"});
  npy("text.npy", {"not a .npy file"});
  npy("missing.npy", {"no such file"});
  expect_error([&] { load_npz(dir.file("text.npz")); }, {"text.npz", "not a zip archive"});
  expect_error([&] { load_npz(dir.file("crc.npz")); }, {"crc.npz", "array 'b'", "CRC"});
  expect_error([&] { load_npz(dir.file("truncated.npz")); }, {"truncated.npz"});
  expect_error([&] { load_npz(dir.file("garbage_entry.npz")); }, {"garbage_entry.npz", "array 'w'", "corrupt .npy header"});
  expect_error([&] { load_npz(dir.file("not_npy.npz")); }, {"not_npy.npz", "'readme.txt' is not an .npy array"});
  expect_error([&] { load_npz(dir.file("nothing.npz")); }, {"nothing.npz", "no such file"});
  expect_error([&] { load_npz(dir.path.string()); }, {"not a regular file"});
}

// Inputs the fuzzers once found (kept as regression cases): each must be rejected cleanly.
TEST(Npz, FuzzRegressionsAreRejected) {
  const std::filesystem::path dir = std::filesystem::path(EMBER_SOURCE_DIR) / "tests/weights/regressions";
  int n = 0;
  if (std::filesystem::is_directory(dir)) {
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().extension() != ".npz") continue;
      ++n;
      try {
        load_npz(e.path().string());
      } catch (const Error&) {
      }
    }
  }
  std::printf("%d .npz regression inputs read without crashing\n", n);
}

}  // namespace
}  // namespace ember::test
