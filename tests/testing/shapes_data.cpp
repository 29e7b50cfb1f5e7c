// The tiny shapes data set and the checkpoint comparison (see shapes_data.h).
#include "tests/testing/shapes_data.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/testing/files.h"
#include "weights/hdf5.h"

namespace effnet::testing {
namespace fs = std::filesystem;

data::Image shape_image(int c, std::mt19937& rng) {
  const int S = 16;
  auto jitter = [&](int v, int amount) { return std::clamp(v + int(rng() % uint32_t(2 * amount + 1)) - amount, 0, 255); };
  const int colours[4][3] = {{220, 60, 60}, {60, 200, 60}, {60, 60, 220}, {220, 220, 60}};
  int base[3], colour[3];
  for (int k = 0; k < 3; ++k) {
    base[k] = int(rng() % 61);
    colour[k] = jitter(colours[c][k], 30);
  }
  data::Image img;
  img.width = img.height = S;
  img.rgb.resize(S * S * 3);
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x) {
      const bool on = c == 0 ? (x >= 4 && x < 12 && y >= 4 && y < 12)
                    : c == 1 ? (y % 4 < 2)
                    : c == 2 ? (x % 4 < 2)
                             : (x >= 6 && x < 10) || (y >= 6 && y < 10);
      for (int k = 0; k < 3; ++k) img.rgb[size_t((y * S + x) * 3 + k)] = uint8_t(jitter(on ? colour[k] : base[k], 20));
    }
  return img;
}

void make_shapes_dataset(const fs::path& root, int per_class, int unlabeled, int test) {
  const std::vector<std::string> classes = {"square", "hbars", "vbars", "cross"};
  std::mt19937 rng(7);
  fs::create_directories(root);
  write_file(root / "classes.txt", "square\nhbars\nvbars\ncross\n");
  for (int c = 0; c < 4; ++c) {
    fs::create_directories(root / "labeled" / classes[size_t(c)]);
    for (int i = 0; i < per_class; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "%04d.png", i);
      data::write_png((root / "labeled" / classes[size_t(c)] / name).string(), shape_image(c, rng));
    }
  }
  for (const char* part : {"unlabeled", "test"}) {
    const int n = std::string(part) == "test" ? test : unlabeled;
    fs::create_directories(root / part);
    std::ofstream labels(root / (std::string(part) + "_labels.csv"));
    labels << "file,label\n";
    for (int i = 0; i < n; ++i) {
      const int c = int(rng() % 4);
      char name[32];
      std::snprintf(name, sizeof name, "%05d.png", i);
      data::write_png((root / part / name).string(), shape_image(c, rng));
      labels << name << "," << c << "\n";
    }
  }
}

void expect_same_tensors(const fs::path& a, const fs::path& b) {
  h5::File fa = h5::File::open(a.string()), fb = h5::File::open(b.string());
  for (const std::string group : {"/", "/optimizer"}) {
    ASSERT_EQ(fa.has(group), fb.has(group)) << group;
    if (!fa.has(group)) continue;
    std::vector<std::string> names = fa.datasets(group);
    ASSERT_EQ(names, fb.datasets(group)) << a << " vs " << b;
    ASSERT_FALSE(names.empty());
    int differing = 0;
    for (const std::string& n : names) {
      const std::string path = (group == "/" ? "/" : group + "/") + n;
      if (n.rfind("step.", 0) == 0) continue;  // Adam's int64 counters (none with SGD)
      differing += fa.read(path).to_vector<float>() != fb.read(path).to_vector<float>();
    }
    EXPECT_EQ(differing, 0) << differing << " of " << names.size() << " tensors differ in " << group << " of " << a
                            << " and " << b;
  }
}

}  // namespace effnet::testing
