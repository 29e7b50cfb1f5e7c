// Data layer: image decoding/encoding and its errors, dataset folders and label lists,
// transforms (against PyTorch values), the batch loader, numpy's permutation, Fashion-MNIST
// preparation. Files are written under the build tree (test_data_tmp/<test name>).
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "framework/data/dataset.h"
#include "framework/data/fashion_mnist.h"
#include "framework/data/image.h"
#include "framework/data/loader.h"
#include "framework/data/numpy_random.h"
#include "framework/data/transforms.h"
#include "framework/framework.h"
#include "tests/testing/compare.h"
#include "tests/testing/errors.h"
#include "tests/testing/files.h"

using namespace effnet;
using namespace effnet::testing;
using namespace effnet::data;
namespace fs = std::filesystem;

namespace {

Image pattern_image(int w, int h, int seed) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(size_t(w) * h * 3);
  for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = uint8_t((i * 37 + size_t(seed) * 101 + i * i % 7) % 256);
  return img;
}

// A smooth image (JPEG keeps it within a few levels).
Image smooth_image(int w, int h) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) img.rgb[(size_t(y) * w + x) * 3 + c] = uint8_t(40 + 4 * x + 3 * y + 20 * c);
  return img;
}

void expect_floats(const std::vector<float>& got, const std::vector<float>& want, float tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

}  // namespace

// ---- images -------------------------------------------------------------------------------------

TEST(Image, PngRoundTripKeepsExactPixels) {
  fs::path dir = test_temp_dir();
  Image img = pattern_image(7, 5, 1);
  write_png((dir / "a.png").string(), img);
  EXPECT_FALSE(fs::exists(dir / "a.png.tmp"));
  Image back = decode_image((dir / "a.png").string());
  EXPECT_EQ(back.width, 7);
  EXPECT_EQ(back.height, 5);
  EXPECT_EQ(back.rgb, img.rgb);
}

TEST(Image, GreyPngIsReplicatedToThreeChannels) {
  fs::path dir = test_temp_dir();
  std::vector<uint8_t> grey{0, 10, 200, 255, 7, 99};
  write_png((dir / "g.png").string(), 3, 2, 1, grey.data());
  Image back = decode_image((dir / "g.png").string());
  ASSERT_EQ(back.rgb.size(), 18u);
  for (size_t p = 0; p < 6; ++p)
    for (size_t c = 0; c < 3; ++c) EXPECT_EQ(back.rgb[p * 3 + c], grey[p]);
}

TEST(Image, JpegDecodesCloseToOriginal) {
  fs::path dir = test_temp_dir();
  Image img = smooth_image(16, 12);
  write_jpeg((dir / "a.jpg").string(), img, 95);
  Image back = decode_image((dir / "a.jpg").string());
  ASSERT_EQ(back.width, 16);
  ASSERT_EQ(back.height, 12);
  int worst = 0;
  for (size_t i = 0; i < img.rgb.size(); ++i) worst = std::max(worst, std::abs(int(img.rgb[i]) - int(back.rgb[i])));
  EXPECT_LE(worst, 8);
}

TEST(Image, BadFilesThrowNamingTheFileAndReason) {
  fs::path dir = test_temp_dir();
  write_png((dir / "ok.png").string(), pattern_image(16, 16, 2));
  write_jpeg((dir / "ok.jpg").string(), smooth_image(32, 32), 90);
  const std::string png = read_file(dir / "ok.png"), jpg = read_file(dir / "ok.jpg");

  write_file(dir / "trunc.png", png.substr(0, png.size() / 2));
  write_file(dir / "header_only.png", png.substr(0, 33));  // signature + IHDR: stb gives an empty reason
  write_file(dir / "trunc.jpg", jpg.substr(0, jpg.size() / 2));
  std::string bad_png = png;
  for (size_t i = 40; i < bad_png.size() - 12; ++i) bad_png[i] = char(0x5A ^ i);  // scribble over the pixel data
  write_file(dir / "corrupt.png", bad_png);
  std::string bad_jpg = jpg.substr(0, 2) + std::string(200, '\x13') + jpg.substr(jpg.size() - 2);
  write_file(dir / "corrupt.jpg", bad_jpg);
  write_file(dir / "notes.txt", "not an image at all\n");
  write_file(dir / "empty.png", "");

  for (const char* name : {"trunc.png", "header_only.png", "trunc.jpg", "corrupt.png", "corrupt.jpg", "notes.txt", "empty.png"}) {
    const std::string path = (dir / name).string();
    EXPECT_ERROR_HAS(decode_image(path), path + ": cannot decode image: ");
  }
  EXPECT_ERROR_HAS(decode_image((dir / "notes.txt").string()), "unknown image type");
  EXPECT_ERROR_HAS(decode_image((dir / "trunc.jpg").string()), "truncated JPEG");
  EXPECT_ERROR_HAS(decode_image((dir / "trunc.png").string()),
                   "truncated PNG (the file ends before its IEND chunk; chunk 'IDAT' declares ");
  EXPECT_ERROR_HAS(decode_image((dir / "header_only.png").string()),
                   "header_only.png: cannot decode image: truncated PNG (the file ends before its IEND chunk)");
  EXPECT_ERROR_HAS(decode_image((dir / "missing.png").string()), "missing.png: cannot open image: No such file");
}

// What fuzzing found (tests/fuzz): stb_image 2.27 writes past its tables for a Huffman table of
// more than 256 codes, so the file is refused before stb reads it; a BMP of height 0 decodes to no
// pixels, a BMP shorter than its pixel rows to rows of zeros, a JPEG too short for its size to
// grey blocks. Other formats than PNG, JPEG and BMP are not decoded at all.
TEST(Image, FuzzingFindingsAndOtherFormatsAreRefused) {
  fs::path dir = test_temp_dir();
  write_jpeg((dir / "ok.jpg").string(), smooth_image(16, 16), 90);
  std::string jpg = read_file(dir / "ok.jpg");
  const size_t dht = jpg.find("\xFF\xC4");
  ASSERT_NE(dht, std::string::npos);
  jpg[dht + 5 + 14] = char(200);  // code counts of lengths 15 and 16 (after length and class bytes)
  jpg[dht + 5 + 15] = char(200);
  write_file(dir / "huffman.jpg", jpg);
  EXPECT_ERROR_HAS(decode_image((dir / "huffman.jpg").string()),
                   "huffman.jpg: cannot decode image: corrupt JPEG (a Huffman table declares more than 256 codes)");
  // A BMP header with height 0: stb "decodes" it into an image without pixels.
  std::string bmp = std::string("BM") + std::string(8, '\0') + std::string("\x36\0\0\0\x28\0\0\0", 8);
  bmp += std::string("\x04\0\0\0", 4) + std::string(4, '\0') + std::string("\x01\0\x18\0", 4) + std::string(24, '\0');
  write_file(dir / "flat.bmp", bmp);
  EXPECT_ERROR_HAS(decode_image((dir / "flat.bmp").string()),
                   "flat.bmp: cannot decode image: the header gives no pixels (4x0)");
  // A BMP that says 4000 x 3000 and ends after its header: stb would fill the rows with zeros.
  std::string big = bmp;
  const unsigned char size[8] = {0xA0, 0x0F, 0, 0, 0xB8, 0x0B, 0, 0};
  big.replace(18, 8, reinterpret_cast<const char*>(size), 8);
  write_file(dir / "short.bmp", big);
  EXPECT_ERROR_HAS(decode_image((dir / "short.bmp").string()),
                   "short.bmp: cannot decode image: truncated BMP (its 4000x3000 pixels need 36000000 bytes, the file has 54)");
  // A JPEG header that says 32394 x 2189 with 29 bytes in all: stb would decode grey blocks.
  write_file(dir / "tiny.jpg", std::string("\xFF\xD8\xFF\xC0\x00\x0B\x08\x08\x8D\x7E\x8A\x01\x01\x11\x00"
                                            "\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00\x12\x34\xFF\xD9", 29));
  EXPECT_ERROR_HAS(decode_image((dir / "tiny.jpg").string()),
                   "tiny.jpg: cannot decode image: truncated or corrupt JPEG (its 32394x2189 pixels need at least "
                   "138712 bytes of coded data, the file has 29)");
  write_file(dir / "anim.gif", std::string("GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14));
  EXPECT_ERROR_HAS(decode_image((dir / "anim.gif").string()),
                   "anim.gif: cannot decode image: unknown image type (effnet reads PNG, JPEG and BMP)");
}

// A header may claim any size: 15000 x 15000 (675 MB as RGB, within stb's own 1 GiB limit) is
// refused before stb allocates it.
TEST(Image, HugeHeaderIsRefusedBeforeDecoding) {
  fs::path dir = test_temp_dir();
  write_png((dir / "ok.png").string(), pattern_image(16, 16, 2));
  std::string png = read_file(dir / "ok.png");
  const unsigned char size[8] = {0, 0, 0x3A, 0x98, 0, 0, 0x3A, 0x98};  // IHDR width, height (big-endian)
  png.replace(16, 8, reinterpret_cast<const char*>(size), 8);
  write_file(dir / "huge.png", png);
  EXPECT_ERROR_HAS(decode_image((dir / "huge.png").string()),
                   "huge.png: cannot decode image: image too large (15000x15000 pixels; at most 134217728 pixels");
}

TEST(Image, WriteChecksArguments) {
  fs::path dir = test_temp_dir();
  std::vector<uint8_t> px(12);
  EXPECT_ERROR_HAS(write_png((dir / "x.png").string(), 2, 2, 2, px.data()), "channels must be 1 or 3");
  EXPECT_ERROR_HAS(write_png((dir / "no/such/x.png").string(), 2, 2, 3, px.data()), "x.png: cannot write");
  Image wrong;
  wrong.width = 4;
  wrong.height = 4;
  wrong.rgb.resize(5);
  EXPECT_ERROR_HAS(write_png((dir / "y.png").string(), wrong), "holds 5 bytes");
}

// ---- datasets -----------------------------------------------------------------------------------

namespace {
// root/<class>/<k>.png, class c's images filled with value 10 * (c + 1) + k.
void make_tree(const fs::path& root, const std::vector<std::string>& classes, int per_class, int size = 4) {
  for (size_t c = 0; c < classes.size(); ++c) {
    fs::create_directories(root / classes[c]);
    for (int k = 0; k < per_class; ++k) {
      Image img;
      img.width = img.height = size;
      img.rgb.assign(size_t(size) * size * 3, uint8_t(10 * (c + 1) + k));
      write_png((root / classes[c] / (std::to_string(k) + ".png")).string(), img);
    }
  }
}
}  // namespace

TEST(Dataset, LabeledTreeSortsClassesAndLabelsImages) {
  fs::path root = test_temp_dir() / "lab";
  make_tree(root, {"zebra", "ant"}, 2);
  Dataset ds = load_labeled_tree(root.string());
  EXPECT_EQ(ds.classes, (std::vector<std::string>{"ant", "zebra"}));
  EXPECT_EQ(ds.files, (std::vector<std::string>{"ant/0.png", "ant/1.png", "zebra/0.png", "zebra/1.png"}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_TRUE(ds.labeled());
  EXPECT_EQ(ds.image(0).rgb[0], 20);  // "ant" was written second: 10 * 2 + 0
  EXPECT_EQ(ds.image(3).rgb[5], 11);
  EXPECT_TRUE(ds.skipped.empty());
}

TEST(Dataset, LabeledTreeFollowsAGivenClassList) {
  fs::path root = test_temp_dir() / "lab";
  make_tree(root, {"zebra", "ant"}, 1);
  LoadOptions opts;
  opts.classes = {"zebra", "ant"};
  Dataset ds = load_labeled_tree(root.string(), opts);
  EXPECT_EQ(ds.files, (std::vector<std::string>{"zebra/0.png", "ant/0.png"}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{0, 1}));
  opts.classes = {"zebra", "ant", "cat"};
  EXPECT_ERROR_HAS(load_labeled_tree(root.string(), opts), "class folder " + (root / "cat").string() + " is missing");
  opts.classes = {"zebra"};
  EXPECT_ERROR_HAS(load_labeled_tree(root.string(), opts), "unexpected folder " + (root / "ant").string());
}

TEST(Dataset, MissingOrEmptyFoldersThrow) {
  fs::path dir = test_temp_dir();
  EXPECT_ERROR_HAS(load_labeled_tree((dir / "nope").string()), (dir / "nope").string() + " does not exist");
  EXPECT_ERROR_HAS(load_unlabeled_folder((dir / "nope").string()), "does not exist");
  make_tree(dir / "lab", {"a", "b"}, 1);
  fs::create_directories(dir / "lab" / "c");
  EXPECT_ERROR_HAS(load_labeled_tree((dir / "lab").string()), "class folder " + (dir / "lab" / "c").string() + " is empty");
  fs::create_directories(dir / "flat");
  write_file(dir / "flat" / ".hidden", "x");  // hidden files do not count
  EXPECT_ERROR_HAS(load_unlabeled_folder((dir / "flat").string()), "image folder " + (dir / "flat").string() + " is empty");
  fs::create_directories(dir / "noclasses");
  write_png((dir / "noclasses" / "x.png").string(), pattern_image(2, 2, 0));
  EXPECT_ERROR_HAS(load_labeled_tree((dir / "noclasses").string()), "has no class folders");
}

TEST(Dataset, BadFilesThrowUnlessSkippedThenListed) {
  fs::path dir = test_temp_dir();
  fs::path flat = dir / "flat";
  fs::create_directories(flat / "sub");
  write_png((flat / "a.png").string(), pattern_image(3, 3, 1));
  write_png((flat / "c.png").string(), pattern_image(3, 3, 2));
  write_file(flat / "b.txt", "hello");
  std::string png = read_file(flat / "a.png");
  write_file(flat / "d.png", png.substr(0, png.size() - 20));
  EXPECT_ERROR_HAS(load_unlabeled_folder(flat.string()), (flat / "b.txt").string() + ": cannot decode image: unknown image type",
                   "and 2 more bad files", "skip_bad_images");
  LoadOptions opts;
  opts.skip_bad_images = true;
  opts.threads = 3;
  Dataset ds = load_unlabeled_folder(flat.string(), opts);
  EXPECT_EQ(ds.files, (std::vector<std::string>{"a.png", "c.png"}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{-1, -1}));
  EXPECT_FALSE(ds.labeled());
  ASSERT_EQ(ds.skipped.size(), 3u);
  EXPECT_EQ(ds.skipped[0].path, (flat / "b.txt").string());
  EXPECT_EQ(ds.skipped[0].reason, "cannot decode image: unknown image type (effnet reads PNG, JPEG and BMP)");
  EXPECT_EQ(ds.skipped[1].path, (flat / "d.png").string());
  EXPECT_EQ(ds.skipped[2].path, (flat / "sub").string());
  EXPECT_NE(ds.skipped[2].reason.find("is a folder"), std::string::npos);
  EXPECT_EQ(ds.image(1).rgb, pattern_image(3, 3, 2).rgb);

  // In a labeled tree: a bad file in a class folder, a stray file at the root.
  make_tree(dir / "lab", {"a", "b"}, 2);
  write_file(dir / "lab" / "a" / "junk.png", "junk");
  write_file(dir / "lab" / "README", "about");
  EXPECT_ERROR_HAS(load_labeled_tree((dir / "lab").string()), (dir / "lab" / "README").string() + ": not a class folder");
  Dataset lab = load_labeled_tree((dir / "lab").string(), opts);
  EXPECT_EQ(lab.size(), 4);
  ASSERT_EQ(lab.skipped.size(), 2u);
  EXPECT_EQ(lab.skipped[1].path, (dir / "lab" / "a" / "junk.png").string());
  // A class whose every image is bad is as good as empty.
  for (int k = 0; k < 2; ++k) write_file(dir / "lab" / "b" / (std::to_string(k) + ".png"), "junk");
  EXPECT_ERROR_HAS(load_labeled_tree((dir / "lab").string(), opts), (dir / "lab" / "b").string() + " has no readable images");
}

TEST(Dataset, ResizesAtLoadWhenAsked) {
  fs::path dir = test_temp_dir();
  write_png((dir / "a.png").string(), pattern_image(5, 3, 1));
  write_png((dir / "b.png").string(), pattern_image(8, 8, 2));
  LoadOptions opts;
  opts.resize_height = 4;
  opts.resize_width = 6;
  Dataset ds = load_unlabeled_folder(dir.string(), opts);
  for (int64_t i = 0; i < ds.size(); ++i) {
    EXPECT_EQ(ds.image(i).width, 6);
    EXPECT_EQ(ds.image(i).height, 4);
  }
  EXPECT_EQ(ds.image(1).rgb, resize_image(pattern_image(8, 8, 2), 4, 6).rgb);
}

TEST(Dataset, TestFolderTakesLabelsFromCsv) {
  fs::path dir = test_temp_dir();
  fs::create_directories(dir / "test");
  for (int k = 0; k < 3; ++k) write_png((dir / "test" / (std::to_string(k) + ".png")).string(), pattern_image(2, 2, k));
  write_file(dir / "labels.csv", "file,label\r\n2.png,7\r\n0.png,5\r\n1.png,6\r\n");
  Dataset ds = load_test_folder((dir / "test").string(), (dir / "labels.csv").string());
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{5, 6, 7}));
  Dataset bare = load_test_folder((dir / "test").string());
  EXPECT_EQ(bare.labels, (std::vector<int64_t>{-1, -1, -1}));

  write_file(dir / "short.csv", "file,label\n0.png,5\n1.png,6\n");
  EXPECT_ERROR_HAS(load_test_folder((dir / "test").string(), (dir / "short.csv").string()), "no label for image 2.png");
  write_file(dir / "long.csv", "file,label\n0.png,5\n1.png,6\n2.png,1\n9.png,2\n");
  EXPECT_ERROR_HAS(load_test_folder((dir / "test").string(), (dir / "long.csv").string()), "(first: 9.png)");
}

TEST(Dataset, LabelListsRoundTripAndRejectMalformedFiles) {
  fs::path dir = test_temp_dir();
  std::vector<LabelRow> rows{{"a.png", 3, 0.9}, {"b.png", 0, 0.123456789}};
  write_pseudo_labels((dir / "p.csv").string(), rows);
  EXPECT_EQ(read_file(dir / "p.csv"), "file,label,confidence\na.png,3,0.9\nb.png,0,0.123456789\n");
  std::vector<LabelRow> back = read_pseudo_labels((dir / "p.csv").string());
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].file, "b.png");
  EXPECT_EQ(back[1].label, 0);
  EXPECT_DOUBLE_EQ(back[1].confidence, 0.123456789);
  write_label_csv((dir / "l.csv").string(), rows);
  EXPECT_EQ(read_file(dir / "l.csv"), "file,label\na.png,3\nb.png,0\n");
  EXPECT_EQ(read_label_csv((dir / "l.csv").string())[0].confidence, 1.0);

  const std::string p = (dir / "bad.csv").string();
  write_file(p, "name,class\n");
  EXPECT_ERROR_HAS(read_label_csv(p), "header must be");
  write_file(p, "file,label\na.png,x\n");
  EXPECT_ERROR_HAS(read_label_csv(p), p + ":2: label 'x' is not an integer in 'a.png,x'");
  write_file(p, "file,label\na.png,1\nb.png,2,0.5\n");
  EXPECT_ERROR_HAS(read_label_csv(p), p + ":3: expected 2 comma-separated fields");
  write_file(p, "file,label\na.png,1\na.png,2\n");
  EXPECT_ERROR_HAS(read_label_csv(p), "a.png is listed twice (first on line 2)");
  write_file(p, "file,label\na.png,-1\n");
  EXPECT_ERROR_HAS(read_label_csv(p), "negative label");
  EXPECT_ERROR_HAS(read_label_csv((dir / "none.csv").string()), "cannot open label list");
  EXPECT_ERROR_HAS(write_label_csv(p, {{"a,b.png", 1, 1.0}}), "cannot be written");

  write_class_names((dir / "classes.txt").string(), {"x", "y z"});
  EXPECT_EQ(read_class_names((dir / "classes.txt").string()), (std::vector<std::string>{"x", "y z"}));
}

TEST(Dataset, RelabelConcatAndIndicesOf) {
  fs::path dir = test_temp_dir();
  make_tree(dir / "lab", {"a", "b"}, 1);
  fs::create_directories(dir / "unl");
  for (int k = 0; k < 3; ++k) write_png((dir / "unl" / (std::to_string(k) + ".png")).string(), pattern_image(4, 4, k));
  Dataset lab = load_labeled_tree((dir / "lab").string());
  Dataset unl = load_unlabeled_folder((dir / "unl").string());
  Dataset pseudo = relabel(unl, {{"2.png", 1, 0.9}, {"0.png", 0, 0.95}});
  EXPECT_EQ(pseudo.files, (std::vector<std::string>{"2.png", "0.png"}));
  EXPECT_EQ(pseudo.labels, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(pseudo.images[0].get(), unl.images[2].get());  // shared, not copied
  Dataset both = concat(lab, pseudo);
  EXPECT_EQ(both.size(), 4);
  EXPECT_EQ(both.classes, lab.classes);
  EXPECT_EQ(both.labels, (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_EQ(indices_of(unl, {"1.png", "0.png"}), (std::vector<int64_t>{1, 0}));
  EXPECT_ERROR_HAS(indices_of(unl, {"7.png"}), "file 7.png is not in the dataset");
  Dataset two_classes = relabel(lab, {{"a/0.png", 1, 1.0}});
  EXPECT_ERROR_HAS(relabel(lab, {{"a/0.png", 2, 1.0}}), "outside the 2 classes");
}

// ---- transforms ---------------------------------------------------------------------------------

// Expected values from PyTorch (CPU, float32):
//   /usr/bin/python3 -c "import torch, torch.nn.functional as F
//   x = torch.arange(12, dtype=torch.float32).reshape(1,1,3,4) * torch.tensor([1.0,-0.5,2.0,0.25]).view(1,1,1,4)
//       + torch.arange(3.).view(1,1,3,1)**2
//   print(F.interpolate(x, size=(5,7), mode='bilinear', align_corners=False).flatten().tolist())
//   print(F.interpolate(x, size=(2,3), mode='bilinear', align_corners=False).flatten().tolist())"
TEST(Transforms, ResizeMatchesPyTorchInterpolate) {
  const std::vector<float> x{0.0f, -0.5f, 4.0f, 0.75f, 5.0f, -1.5f, 13.0f, 2.75f, 12.0f, -0.5f, 24.0f, 6.75f};
  const std::vector<float> up{0.0f,      -0.1785714f, -0.4642857f, 1.75f,     3.767857f,  1.910714f,  0.75f,
                              2.0f,      0.9642856f,  -0.6928573f, 3.350001f, 7.167857f,  3.710713f,  1.55f,
                              5.0f,      2.678571f,   -1.035714f,  5.750002f, 12.26786f,  6.410713f,  2.75f,
                              9.200001f, 5.592857f,   -0.1785717f, 9.350002f, 18.56786f,  10.31071f,  5.150001f,
                              12.0f,     7.535713f,   0.3928567f,  11.75f,    22.76786f,  12.91071f,  6.75f};
  const std::vector<float> down{0.9166666f, 2.75f, 2.083333f, 8.416667f, 10.25f, 8.333332f};
  std::vector<float> y(35), z(6);
  resize_bilinear(x.data(), 1, 3, 4, y.data(), 5, 7);
  resize_bilinear(x.data(), 1, 3, 4, z.data(), 2, 3);
  expect_floats(y, up, 2e-5f);
  expect_floats(z, down, 2e-5f);
  std::vector<float> same(12);
  resize_bilinear(x.data(), 1, 3, 4, same.data(), 3, 4);
  EXPECT_EQ(same, x);
  EXPECT_ERROR_HAS(resize_bilinear(x.data(), 1, 3, 4, z.data(), 0, 3), "resize_bilinear: bad sizes");
}

TEST(Transforms, ToFloatFlipCropNormalizeExactValues) {
  Image img;
  img.width = 3;
  img.height = 2;
  img.rgb = {0, 51, 255, 102, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<float> chw(18);
  to_float_chw(img, chw.data());
  EXPECT_EQ(chw[0], 0.0f);
  EXPECT_EQ(chw[1], 102.0f / 255.0f);  // pixel (0,1) channel 0
  EXPECT_EQ(chw[6], 51.0f / 255.0f);   // pixel (0,0) channel 1
  EXPECT_EQ(chw[12], 1.0f);            // pixel (0,0) channel 2

  std::vector<float> a{1, 2, 3, 4, 5, 6};  // 1 channel, 2 x 3
  flip_horizontal(a.data(), 1, 2, 3);
  EXPECT_EQ(a, (std::vector<float>{3, 2, 1, 6, 5, 4}));

  std::vector<float> src{1, 2, 3, 4, 5, 6, 7, 8, 9}, dst(9);  // 3 x 3, padding 1
  crop_with_padding(src.data(), 1, 3, 3, 1, 0, 0, dst.data());  // shifted down-right: zeros top and left
  EXPECT_EQ(dst, (std::vector<float>{0, 0, 0, 0, 1, 2, 0, 4, 5}));
  crop_with_padding(src.data(), 1, 3, 3, 1, 1, 1, dst.data());  // centre: unchanged
  EXPECT_EQ(dst, src);
  crop_with_padding(src.data(), 1, 3, 3, 1, 2, 0, dst.data());
  EXPECT_EQ(dst, (std::vector<float>{0, 4, 5, 0, 7, 8, 0, 0, 0}));
  EXPECT_ERROR_HAS(crop_with_padding(src.data(), 1, 3, 3, 1, 3, 0, dst.data()), "outside [0, 2]");

  std::vector<float> n{0.5f, 1.0f, 0.0f, 0.25f};  // 2 channels of 1 x 2
  const float mean[2] = {0.5f, 0.25f}, sd[2] = {0.25f, 0.5f};
  normalize(n.data(), 2, 1, 2, mean, sd);
  EXPECT_EQ(n, (std::vector<float>{0.0f, 2.0f, -0.5f, 0.0f}));
}

TEST(Transforms, AugmentDrawsAreDeterministicAndCoverTheirRange) {
  int flips = 0;
  std::set<int> tops, lefts;
  for (uint64_t s = 0; s < 2000; ++s) {
    AugmentDraw d = draw_augment(7, 3, s, 0.5, 2);
    AugmentDraw again = draw_augment(7, 3, s, 0.5, 2);
    EXPECT_EQ(d.flip, again.flip);
    EXPECT_EQ(d.top, again.top);
    EXPECT_EQ(d.left, again.left);
    flips += d.flip;
    tops.insert(d.top);
    lefts.insert(d.left);
  }
  EXPECT_GT(flips, 900);
  EXPECT_LT(flips, 1100);
  EXPECT_EQ(tops, (std::set<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(lefts, (std::set<int>{0, 1, 2, 3, 4}));
  int same = 0;
  for (uint64_t s = 0; s < 200; ++s) same += draw_augment(7, 3, s, 0.5, 2).flip == draw_augment(7, 4, s, 0.5, 2).flip;
  EXPECT_LT(same, 150);  // another epoch draws afresh
  EXPECT_FALSE(draw_augment(7, 3, 0, 0.0, 0).flip);
  EXPECT_TRUE(draw_augment(7, 3, 0, 1.0, 0).flip);
}

TEST(Transforms, EraseDrawsFollowTorchvisionsRangesAndLeaveFlipsAndCropsAlone) {
  // Each rectangle lies strictly inside the image, with 2-33 % of its area (up to rounding) and an
  // aspect ratio in [0.3, 3.3] (up to rounding); p decides how often; the same sample and epoch
  // give the same rectangle, another epoch another one.
  int erased = 0, differs = 0;
  for (uint64_t s = 0; s < 2000; ++s) {
    const EraseDraw e = draw_erase(7, 3, s, 0.5, 32, 32);
    const EraseDraw again = draw_erase(7, 3, s, 0.5, 32, 32);
    EXPECT_EQ(e.top, again.top);
    EXPECT_EQ(e.left, again.left);
    EXPECT_EQ(e.erase_h, again.erase_h);
    EXPECT_EQ(e.erase_w, again.erase_w);
    if (e.erase_h == 0) continue;
    erased++;
    EXPECT_TRUE(e.erase_h < 32 && e.erase_w < 32 && e.top >= 0 && e.left >= 0 && e.top + e.erase_h <= 32 &&
                e.left + e.erase_w <= 32)
        << e.erase_h << "x" << e.erase_w << " at " << e.top << "," << e.left;
    const double area = double(e.erase_h) * e.erase_w / (32.0 * 32.0);
    EXPECT_GE(area, 0.02 * 0.8);
    EXPECT_LE(area, 0.33 * 1.25);
    const double aspect = double(e.erase_h) / e.erase_w;
    EXPECT_GE(aspect, 0.3 / 1.5);
    EXPECT_LE(aspect, 3.3 * 1.5);
    const EraseDraw other = draw_erase(7, 4, s, 0.5, 32, 32);
    differs += other.top != e.top || other.erase_h != e.erase_h || other.left != e.left;
  }
  EXPECT_GT(erased, 900);
  EXPECT_LT(erased, 1100);
  EXPECT_GT(differs, erased / 2);
  EXPECT_EQ(draw_erase(7, 3, 0, 0.0, 32, 32).erase_h, 0);
  int always = 0;
  for (uint64_t s = 0; s < 100; ++s) always += draw_erase(7, 3, s, 1.0, 32, 32).erase_h > 0;
  EXPECT_GE(always, 95) << "p = 1 erases unless 10 tries miss";
  for (uint64_t s = 0; s < 100; ++s) {  // erasing draws from its own streams
    const AugmentDraw d = draw_augment(7, 3, s, 0.5, 2);
    const AugmentDraw again = draw_augment(7, 3, s, 0.5, 2);
    EXPECT_EQ(d.flip, again.flip);
    EXPECT_EQ(d.top, again.top);
  }
  std::vector<float> img(2 * 3 * 4, 1.0f);
  erase_rect(img.data(), 2, 3, 4, 1, 2, 2, 2);
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 4; ++x)
        EXPECT_EQ(img[size_t((c * 3 + y) * 4 + x)], (y >= 1 && x >= 2) ? 0.0f : 1.0f) << c << "," << y << "," << x;
  EXPECT_ERROR_HAS(erase_rect(img.data(), 2, 3, 4, 2, 2, 2, 2), "does not fit a 3x4 image");
}

TEST(Transforms, PipelineComposesTheSteps) {
  Image img = pattern_image(5, 4, 3);
  Transform t;
  t.height = 6;
  t.width = 7;
  t.flip_prob = 0.5;
  t.crop_padding = 2;
  for (uint64_t sample = 0; sample < 6; ++sample) {
    std::vector<float> got(3 * 6 * 7), a(3 * 5 * 4), b(3 * 6 * 7), want(3 * 6 * 7);
    t.apply(img, 11, 2, sample, got.data());
    AugmentDraw d = draw_augment(11, 2, sample, 0.5, 2);
    to_float_chw(img, a.data());
    resize_bilinear(a.data(), 3, 4, 5, b.data(), 6, 7);
    crop_with_padding(b.data(), 3, 6, 7, 2, d.top, d.left, want.data());
    if (d.flip) flip_horizontal(want.data(), 3, 6, 7);
    normalize(want.data(), 3, 6, 7, kImageNetMean.data(), kImageNetStd.data());
    EXPECT_EQ(got, want) << "sample " << sample;
  }
  t.erase_prob = 1.0;  // erasing comes last, after normalisation (the erased pixels are the mean)
  for (uint64_t sample = 0; sample < 6; ++sample) {
    std::vector<float> got(3 * 6 * 7), want(3 * 6 * 7);
    t.apply(img, 11, 2, sample, got.data());
    Transform no_erase = t;
    no_erase.erase_prob = 0;
    no_erase.apply(img, 11, 2, sample, want.data());
    const EraseDraw e = draw_erase(11, 2, sample, 1.0, 6, 7);
    if (e.erase_h > 0) erase_rect(want.data(), 3, 6, 7, e.top, e.left, e.erase_h, e.erase_w);
    EXPECT_EQ(got, want) << "sample " << sample;
  }
  Transform plain;  // no resize, no randomness: just scale and normalise
  std::vector<float> got(3 * 5 * 4);
  plain.apply(img, 0, 0, 0, got.data());
  EXPECT_EQ(got[0], (float(img.rgb[0]) / 255.0f - 0.485f) / 0.229f);
  // The mirror view (test-time augmentation) is the plain one flipped, whatever the sample.
  Transform mirrored = plain;
  mirrored.mirror = true;
  EXPECT_FALSE(mirrored.is_random());
  std::vector<float> flipped(3 * 5 * 4);
  mirrored.apply(img, 0, 0, 7, flipped.data());
  flip_horizontal(got.data(), 3, 4, 5);
  EXPECT_EQ(flipped, got);
}

// ---- loader -------------------------------------------------------------------------------------

namespace {
// n images of 4 x 4 whose pixels encode the index; label = index % 3.
Dataset synthetic_dataset(int n, int size = 4) {
  Dataset ds;
  ds.root = "synthetic";
  for (int i = 0; i < n; ++i) {
    Image img = pattern_image(size, size, i);
    img.rgb[0] = uint8_t(i);
    ds.files.push_back(std::to_string(i) + ".png");
    ds.images.push_back(std::make_shared<const Image>(std::move(img)));
    ds.labels.push_back(i % 3);
  }
  return ds;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i;
  return v;
}

// Loader options with the given batch size, seed and worker count; the rest default.
LoaderOptions loader_options(int64_t batch_size, uint64_t seed, int workers) {
  LoaderOptions opts;
  opts.batch_size = batch_size;
  opts.seed = seed;
  opts.workers = workers;
  return opts;
}

// All batches of one epoch.
std::vector<Batch> run_epoch(Loader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}
}  // namespace

TEST(Loader, CoversEveryIndexOncePerEpochWithTransformedImages) {
  Dataset ds = synthetic_dataset(23);
  LoaderOptions opts = loader_options(5, 4, 3);
  opts.transform.flip_prob = 0.5;
  opts.transform.crop_padding = 1;
  std::vector<int64_t> subset;
  for (int64_t i = 1; i < 23; ++i) subset.push_back(i);  // index 0 left out
  Loader loader(ds, subset, opts);
  EXPECT_EQ(loader.batches_per_epoch(), 5);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<Batch> batches = run_epoch(loader, epoch);
    ASSERT_EQ(batches.size(), 5u);
    std::vector<int64_t> seen;
    for (size_t k = 0; k < batches.size(); ++k) {
      const Batch& b = batches[k];
      const int64_t rows = k + 1 < batches.size() ? 5 : 2;
      ASSERT_EQ(b.images.shape(), (Shape{rows, 3, 4, 4}));
      ASSERT_EQ(b.labels.shape(), (Shape{rows}));
      EXPECT_EQ(b.labels.dtype(), DType::Int64);
      std::vector<int64_t> labels = b.labels.to_vector<int64_t>();
      std::vector<float> images = b.images.to_vector<float>();
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t idx = b.indices[size_t(r)];
        EXPECT_EQ(labels[size_t(r)], idx % 3);
        std::vector<float> want(48);
        opts.transform.apply(ds.image(idx), opts.seed, uint64_t(epoch), uint64_t(idx), want.data());
        EXPECT_TRUE(std::equal(want.begin(), want.end(), images.begin() + r * 48)) << "row " << r;
        seen.push_back(idx);
      }
    }
    std::vector<int64_t> order = loader.epoch_order(epoch);
    EXPECT_EQ(seen, order);
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, subset);
  }
  EXPECT_NE(loader.epoch_order(0), loader.epoch_order(1));
}

TEST(Loader, SameSeedSameBatchesWhateverTheWorkers) {
  Dataset ds = synthetic_dataset(40);
  LoaderOptions a = loader_options(8, 9, 1);
  a.prefetch = 1;
  a.transform.flip_prob = 0.5;
  LoaderOptions b = a;
  b.workers = 4;
  b.prefetch = 4;
  Loader la(ds, iota(40), a), lb(ds, iota(40), b);
  std::vector<Batch> ea = run_epoch(la, 2), eb = run_epoch(lb, 2);
  ASSERT_EQ(ea.size(), eb.size());
  for (size_t k = 0; k < ea.size(); ++k) {
    EXPECT_EQ(ea[k].indices, eb[k].indices);
    EXPECT_EQ(ea[k].images.to_vector<float>(), eb[k].images.to_vector<float>());
  }
  LoaderOptions c = a;
  c.seed = 10;
  Loader lc(ds, iota(40), c);
  EXPECT_NE(lc.epoch_order(2), la.epoch_order(2));
  LoaderOptions d = a;
  d.shuffle = false;
  Loader ld(ds, iota(40), d);
  EXPECT_EQ(ld.epoch_order(5), iota(40));
}

TEST(Loader, DropLastAndRestartingAnEpoch) {
  Dataset ds = synthetic_dataset(10);
  LoaderOptions opts = loader_options(4, 0, 2);
  opts.last_batch = LastBatch::drop;
  Loader loader(ds, iota(10), opts);
  EXPECT_EQ(loader.batches_per_epoch(), 2);
  EXPECT_EQ(loader.samples_per_epoch(), 8);
  std::vector<Batch> e = run_epoch(loader, 0);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[1].images.size(0), 4);
  // Abandon an epoch half-way, start another: it begins at its own first batch.
  loader.start_epoch(1);
  Batch b;
  ASSERT_TRUE(loader.next(b));
  std::vector<Batch> again = run_epoch(loader, 1);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].indices, b.indices);
  EXPECT_FALSE(loader.next(b));
  opts.batch_size = 11;
  EXPECT_ERROR_HAS(Loader(ds, iota(10), opts), "make no full batch");
  // drop_if_full: as drop while a full batch exists, else the one smaller batch (but not over ranks).
  opts.last_batch = LastBatch::drop_if_full;
  EXPECT_EQ(Loader(ds, iota(10), opts).batches_per_epoch(), 1);
  EXPECT_EQ(Loader(ds, iota(10), opts).samples_per_epoch(), 10);
  opts.batch_size = 4;
  EXPECT_EQ(Loader(ds, iota(10), opts).samples_per_epoch(), 8);
  opts.batch_size = 6;
  opts.world = 2;
  EXPECT_ERROR_HAS(Loader(ds, iota(10), opts), "make no full batch of 6 per rank over 2 ranks");
}

namespace {
// One epoch of each of `world` rank loaders, each with `per_rank` rows of the global batch.
std::vector<std::vector<Batch>> rank_epochs(const Dataset& ds, const std::vector<int64_t>& indices,
                                            const LoaderOptions& whole, int world, int64_t per_rank, int64_t epoch,
                                            int64_t expected_batches) {
  std::vector<std::vector<Batch>> ranks;
  for (int r = 0; r < world; ++r) {
    LoaderOptions o = whole;
    o.batch_size = per_rank;
    o.rank = r;
    o.world = world;
    Loader shard(ds, indices, o);
    EXPECT_EQ(shard.batches_per_epoch(), expected_batches) << "rank " << r;
    ranks.push_back(run_epoch(shard, epoch));
  }
  return ranks;
}
}  // namespace

// Data parallelism: rank r of W takes rows [r*B, (r+1)*B) of each global batch of W*B, so the
// ranks' batches, side by side, are one loader's batches of W*B (indices and augmented images);
// the tail that makes no global batch is dropped on every rank alike.
TEST(Loader, RankShardsTileTheGlobalBatches) {
  Dataset ds = synthetic_dataset(45);
  LoaderOptions whole = loader_options(12, 3, 1);
  whole.last_batch = LastBatch::drop;
  whole.transform.flip_prob = 0.5;
  Loader one(ds, iota(45), whole);
  const std::vector<Batch> global = run_epoch(one, 1);
  ASSERT_EQ(global.size(), 3u);  // 45 images: 3 global batches of 12, 9 dropped
  const std::vector<std::vector<Batch>> ranks = rank_epochs(ds, iota(45), whole, 3, 4, 1, 3);
  for (size_t b = 0; b < global.size(); ++b) {
    std::vector<int64_t> indices;
    std::vector<float> pixels;
    for (int r = 0; r < 3; ++r) {
      ASSERT_EQ(ranks[size_t(r)].size(), global.size());
      const Batch& part = ranks[size_t(r)][b];
      indices.insert(indices.end(), part.indices.begin(), part.indices.end());
      const std::vector<float> px = part.images.to_vector<float>();
      pixels.insert(pixels.end(), px.begin(), px.end());
    }
    EXPECT_EQ(indices, global[b].indices);
    EXPECT_EQ(pixels, global[b].images.to_vector<float>());
  }
  LoaderOptions bad = whole;
  bad.world = 2;
  bad.rank = 2;
  EXPECT_ERROR_HAS(Loader(ds, iota(45), bad), "rank 2 outside a world of 2");
  bad.rank = 1;
  bad.last_batch = LastBatch::keep;
  EXPECT_ERROR_HAS(Loader(ds, iota(45), bad), "needs the last batch dropped");
  bad.last_batch = LastBatch::drop;
  bad.batch_size = 23;
  EXPECT_ERROR_HAS(Loader(ds, iota(45), bad), "per rank over 2 ranks");
}

// Group share (retraining's labeled share): every batch holds round(share * batch) of the first
// group (indices below first_group_end), cycling through reshuffled passes of it, and the rest
// from one pass over the second group, which sets the epoch's length.
TEST(Loader, GroupShareFillsEveryBatchWithItsShare) {
  Dataset ds = synthetic_dataset(60);
  std::vector<int64_t> subset;  // first group: 1..9 (9 images), second: 10..59 but 20 (49 images)
  for (int64_t i = 1; i < 60; ++i)
    if (i != 20) subset.push_back(i);
  LoaderOptions opts = loader_options(8, 5, 2);
  opts.first_group_end = 10;
  opts.first_group_share = 0.25;  // 2 of 8 rows
  opts.transform.flip_prob = 0.5;
  Loader loader(ds, subset, opts);
  EXPECT_EQ(loader.batches_per_epoch(), 9);  // ceil(49 / 6)
  EXPECT_EQ(loader.first_group_rows(), 2);
  EXPECT_EQ(loader.samples_per_epoch(), 49 + 9 * 2);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    const std::vector<Batch> batches = run_epoch(loader, epoch);
    ASSERT_EQ(batches.size(), 9u);
    std::vector<int64_t> second, first_draws;
    std::vector<int64_t> seen;
    for (size_t k = 0; k < batches.size(); ++k) {
      int64_t firsts = 0;
      for (int64_t idx : batches[k].indices) {
        (idx < 10 ? first_draws : second).push_back(idx);
        firsts += idx < 10;
        seen.push_back(idx);
      }
      EXPECT_EQ(firsts, 2) << "batch " << k;
      EXPECT_EQ(batches[k].images.size(0), k + 1 < batches.size() ? 8 : 2 + 1) << "batch " << k;  // 49 = 8 * 6 + 1
    }
    EXPECT_EQ(seen, loader.epoch_order(epoch));
    // The second group once each; the first in passes: 18 draws = two whole passes of 9.
    std::sort(second.begin(), second.end());
    EXPECT_EQ(second, std::vector<int64_t>(subset.begin() + 9, subset.end()));
    ASSERT_EQ(first_draws.size(), 18u);
    for (int pass = 0; pass < 2; ++pass) {
      std::vector<int64_t> p(first_draws.begin() + 9 * pass, first_draws.begin() + 9 * (pass + 1));
      std::sort(p.begin(), p.end());
      EXPECT_EQ(p, std::vector<int64_t>(subset.begin(), subset.begin() + 9)) << "pass " << pass;
    }
  }
  EXPECT_NE(loader.epoch_order(0), loader.epoch_order(1));
  // Deterministic from (seed, epoch) whatever the workers; another seed, another order.
  LoaderOptions other = opts;
  other.workers = 1;
  EXPECT_EQ(Loader(ds, subset, other).epoch_order(3), loader.epoch_order(3));
  other.seed = 6;
  EXPECT_NE(Loader(ds, subset, other).epoch_order(3), loader.epoch_order(3));
  // Without shuffling the groups keep their order: rows 0-1 of each batch from the cycling first.
  other = opts;
  other.shuffle = false;
  const std::vector<int64_t> plain = Loader(ds, subset, other).epoch_order(0);
  EXPECT_EQ(std::vector<int64_t>(plain.begin(), plain.begin() + 10),
            (std::vector<int64_t>{1, 2, 10, 11, 12, 13, 14, 15, 3, 4}));
  // LastBatch::drop: only full batches, each of 2 + 6.
  other = opts;
  other.last_batch = LastBatch::drop;
  Loader dropped(ds, subset, other);
  EXPECT_EQ(dropped.batches_per_epoch(), 8);
  EXPECT_EQ(dropped.samples_per_epoch(), 64);
}

TEST(Loader, GroupShareRanksEachTakeTheirSliceOfTheMixedBatch) {
  Dataset ds = synthetic_dataset(40);
  LoaderOptions whole = loader_options(8, 2, 1);
  whole.last_batch = LastBatch::drop;
  whole.first_group_end = 8;
  whole.first_group_share = 0.5;
  const std::vector<int64_t> order = Loader(ds, iota(40), whole).epoch_order(1);
  // 32 second-group images, 4 per global batch of 8: 8 batches.
  const std::vector<std::vector<Batch>> ranks = rank_epochs(ds, iota(40), whole, 2, 4, 1, 8);
  for (int r = 0; r < 2; ++r) {
    const std::vector<Batch>& batches = ranks[size_t(r)];
    for (size_t b = 0; b < batches.size(); ++b)
      EXPECT_EQ(batches[b].indices, std::vector<int64_t>(order.begin() + int64_t(8 * b + 4 * r),
                                                         order.begin() + int64_t(8 * b + 4 * r + 4)));
  }
}

TEST(Loader, GroupShareErrorsNameTheProblem) {
  Dataset ds = synthetic_dataset(20);
  LoaderOptions opts = loader_options(4, 0, 1);
  opts.first_group_end = 5;
  opts.first_group_share = 1;
  EXPECT_ERROR_HAS(Loader(ds, iota(20), opts), "must lie in (0, 1)");
  opts.first_group_share = -0.5;
  EXPECT_ERROR_HAS(Loader(ds, iota(20), opts), "must lie in (0, 1)");
  opts.first_group_share = 0.5;
  opts.first_group_end = 0;
  EXPECT_ERROR_HAS(Loader(ds, iota(20), opts), "needs both groups");
  opts.first_group_end = 20;
  EXPECT_ERROR_HAS(Loader(ds, iota(20), opts), "needs both groups");
  opts.first_group_end = 5;
  opts.first_group_share = 0.1;  // 0.4 of a row
  EXPECT_ERROR_HAS(Loader(ds, iota(20), opts), "rounds to 0 rows");
  opts.first_group_share = 0.9;  // 3.6: all 4 rows
  EXPECT_ERROR_HAS(Loader(ds, iota(20), opts), "rounds to 4 rows");
}

TEST(Loader, WorkerErrorsReachTheConsumer) {
  Dataset ds = synthetic_dataset(12);
  Image odd = pattern_image(5, 4, 0);
  ds.images[7] = std::make_shared<const Image>(odd);  // a different size and no resize asked
  LoaderOptions opts = loader_options(4, 0, 2);
  opts.shuffle = false;
  Loader loader(ds, iota(12), opts);
  loader.start_epoch(0);
  Batch b;
  EXPECT_TRUE(loader.next(b));                                         // rows 0..3
  EXPECT_ERROR_HAS(loader.next(b), "image 7.png (5x4)", "set transform.height");  // rows 4..7
  EXPECT_TRUE(loader.next(b));                                         // the loader carries on
  EXPECT_EQ(b.indices, (std::vector<int64_t>{8, 9, 10, 11}));
  EXPECT_FALSE(loader.next(b));

  EXPECT_ERROR_HAS(Loader(ds, {0, 12}, opts), "index 12 outside the dataset");
  EXPECT_ERROR_HAS(Loader(ds, {}, opts), "empty index list");
  Loader fresh(ds, iota(12), opts);
  EXPECT_ERROR_HAS(fresh.next(b), "call start_epoch");
}

TEST(Loader, DestructorStopsBusyWorkers) {
  Dataset ds = synthetic_dataset(64, 16);
  LoaderOptions opts = loader_options(2, 0, 4);
  opts.transform.height = opts.transform.width = 32;
  for (int k = 0; k < 5; ++k) {
    Loader loader(ds, iota(64), opts);
    loader.start_epoch(k);
    Batch b;
    if (k % 2) loader.next(b);
  }  // each destructor joins with work pending
  SUCCEED();
}

TEST(Loader, CudaDeviceWithoutAGpuIsAClearError) {
  if (cuda::available()) GTEST_SKIP() << "a GPU is visible";
  Dataset ds = synthetic_dataset(4);
  LoaderOptions opts;
  opts.device = Device::cuda();
  EXPECT_ERROR_HAS(Loader(ds, iota(4), opts), "CUDA");
}

TEST(Loader, CudaBatchesMatchCpuBatches) {
  EFFNET_REQUIRE_CUDA();
  Dataset ds = synthetic_dataset(50);
  LoaderOptions opts = loader_options(8, 3, 2);
  opts.transform.flip_prob = 0.5;
  opts.transform.crop_padding = 1;
  opts.transform.height = opts.transform.width = 6;
  LoaderOptions gpu = opts;
  gpu.device = Device::cuda();
  Loader cpu_loader(ds, iota(50), opts), cuda_loader(ds, iota(50), gpu);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<Batch> c = run_epoch(cpu_loader, epoch), g = run_epoch(cuda_loader, epoch);
    ASSERT_EQ(c.size(), g.size());
    for (size_t k = 0; k < c.size(); ++k) {
      EXPECT_TRUE(g[k].images.is_cuda());
      EXPECT_TRUE(g[k].labels.is_cuda());
      EXPECT_EQ(c[k].indices, g[k].indices);
      EXPECT_EQ(c[k].images.to_vector<float>(), g[k].images.to_vector<float>());
      EXPECT_EQ(c[k].labels.to_vector<int64_t>(), g[k].labels.to_vector<int64_t>());
    }
  }
  // Consume on the GPU while later batches are copied: sum every batch on the compute stream.
  cuda_loader.start_epoch(7);
  cpu_loader.start_epoch(7);
  Batch g, c;
  while (cuda_loader.next(g)) {
    ASSERT_TRUE(cpu_loader.next(c));
    EXPECT_NEAR(sum(g.images).item(), sum(c.images).item(), 1e-3);
  }
  // Half an epoch, then a restart and destruction with copies in flight.
  cuda_loader.start_epoch(8);
  ASSERT_TRUE(cuda_loader.next(g));
  cuda_loader.start_epoch(9);
  ASSERT_TRUE(cuda_loader.next(g));
}

// ---- numpy's RandomState ------------------------------------------------------------------------

// Expected values from numpy 1.24 (/usr/bin/python3):
//   b = np.random.MT19937(); b._legacy_seeding(0); b.random_raw(3); b.random_raw(997); b.random_raw(2)
//   np.random.RandomState(0).permutation(10); (continuing) .permutation(np.arange(100, 107))
//   np.random.RandomState(12345).permutation(70000)[:8], [-4:]
TEST(NumpyRandom, MatchesNumpyLegacyRandomState) {
  NumpyRandomState raw(0);
  EXPECT_EQ(raw.next_uint32(), 2357136044u);
  EXPECT_EQ(raw.next_uint32(), 2546248239u);
  EXPECT_EQ(raw.next_uint32(), 3071714933u);
  for (int i = 0; i < 997; ++i) raw.next_uint32();
  EXPECT_EQ(raw.next_uint32(), 1333075495u);
  EXPECT_EQ(raw.next_uint32(), 1193028842u);

  NumpyRandomState rng(0);
  EXPECT_EQ(rng.permutation(10), (std::vector<int64_t>{2, 8, 4, 9, 1, 6, 7, 3, 0, 5}));
  EXPECT_EQ(rng.permutation(std::vector<int64_t>{100, 101, 102, 103, 104, 105, 106}),
            (std::vector<int64_t>{103, 101, 102, 106, 105, 100, 104}));
  std::vector<int64_t> big = NumpyRandomState(12345).permutation(70000);
  EXPECT_EQ(std::vector<int64_t>(big.begin(), big.begin() + 8),
            (std::vector<int64_t>{58332, 53059, 36369, 9078, 4675, 29737, 25325, 8413}));
  EXPECT_EQ(std::vector<int64_t>(big.end() - 4, big.end()), (std::vector<int64_t>{16930, 28005, 4094, 2177}));
  // numpy: np.random.RandomState(1).permutation(45565)[:6] (the reference's retrain split)
  std::vector<int64_t> retrain = NumpyRandomState(1).permutation(45565);
  EXPECT_EQ(std::vector<int64_t>(retrain.begin(), retrain.begin() + 6),
            (std::vector<int64_t>{37738, 7673, 7749, 14356, 35129, 42491}));
}

// The PyTorch reference's split on the real labels (skips when Debian's dataset is absent):
//   Ytr = <train-labels>; rng = np.random.RandomState(0)
//   lab = np.concatenate([rng.permutation(np.where(Ytr == c)[0])[:500] for c in range(10)]); rng.shuffle(lab)
//   lab[:10], lab[4495:4505], lab[-5:], lab.sum()
TEST(FashionMnist, LabeledSplitMatchesTheReference) {
  const std::string path = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
  if (!fs::exists(path)) GTEST_SKIP() << path << " not installed (dataset-fashion-mnist)";
  IdxArray labels = read_idx(path);
  ASSERT_EQ(labels.dims, (std::vector<int64_t>{60000}));
  std::vector<int64_t> lab = labeled_split(labels.data, 500, 0);
  ASSERT_EQ(lab.size(), 5000u);
  EXPECT_EQ(std::vector<int64_t>(lab.begin(), lab.begin() + 10),
            (std::vector<int64_t>{39587, 49748, 59010, 44382, 58289, 58641, 2129, 17144, 36186, 32051}));
  EXPECT_EQ(std::vector<int64_t>(lab.begin() + 4495, lab.begin() + 4505),
            (std::vector<int64_t>{50852, 50463, 24518, 39618, 49950, 48430, 16875, 23220, 12354, 9982}));
  EXPECT_EQ(std::vector<int64_t>(lab.end() - 5, lab.end()), (std::vector<int64_t>{5344, 51678, 3175, 13433, 20467}));
  int64_t total = 0;
  for (int64_t i : lab) total += i;
  EXPECT_EQ(total, 151174294);
}

// ---- IDX files and preparation ------------------------------------------------------------------

namespace {
void write_gz(const fs::path& p, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(p.string().c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  gzclose(f);
}
std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b{0, 0, 8, uint8_t(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}
// A miniature Fashion-MNIST: n_train and n_test 28x28 images, labels i % 10, pixels from (i, p).
void write_mini_fashion(const fs::path& dir, uint32_t n_train, uint32_t n_test) {
  fs::create_directories(dir);
  for (auto [prefix, n] : {std::pair<const char*, uint32_t>{"train", n_train}, {"t10k", n_test}}) {
    std::vector<uint8_t> px(size_t(n) * 784), lab(n);
    for (uint32_t i = 0; i < n; ++i) {
      lab[i] = uint8_t(i % 10);
      for (size_t p = 0; p < 784; ++p) px[i * 784 + p] = uint8_t((i * 7 + p * 3) % 256);
    }
    write_gz(dir / (std::string(prefix) + "-images-idx3-ubyte.gz"), idx_bytes({n, 28, 28}, px));
    write_gz(dir / (std::string(prefix) + "-labels-idx1-ubyte.gz"), idx_bytes({n}, lab));
  }
}
}  // namespace

TEST(FashionMnist, ReadsIdxFilesAndRejectsBadOnes) {
  fs::path dir = test_temp_dir();
  write_gz(dir / "a.gz", idx_bytes({2, 3}, {1, 2, 3, 4, 5, 6}));
  IdxArray a = read_idx((dir / "a.gz").string());
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.data, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
  write_gz(dir / "short.gz", idx_bytes({2, 3}, {1, 2, 3}));
  EXPECT_ERROR_HAS(read_idx((dir / "short.gz").string()), "short.gz: IDX header promises 6 bytes of data, file has 3");
  write_gz(dir / "magic.gz", {1, 2, 3, 4, 5});
  EXPECT_ERROR_HAS(read_idx((dir / "magic.gz").string()), "magic.gz: not an unsigned-byte IDX file");
  std::vector<uint8_t> big(5000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = uint8_t(i * 31 % 251);
  write_gz(dir / "big.gz", idx_bytes({5000}, big));
  std::string gz = read_file(dir / "big.gz");
  write_file(dir / "trunc.gz", gz.substr(0, gz.size() / 2));
  EXPECT_ERROR_HAS(read_idx((dir / "trunc.gz").string()), "trunc.gz");
  EXPECT_ERROR_HAS(read_idx((dir / "none.gz").string()), "cannot open");
}

TEST(FashionMnist, PrepareWritesTheLayoutOnceAndLoadsBack) {
  fs::path dir = test_temp_dir();
  write_mini_fashion(dir / "src", 50, 7);
  FashionMnistOptions opts;
  opts.source = (dir / "src").string();
  opts.out = (dir / "out").string();
  opts.labels_per_class = 2;
  opts.threads = 2;
  PrepareSummary s = prepare_fashion_mnist(opts);
  EXPECT_FALSE(s.already_complete);
  EXPECT_EQ(s.labeled, 20);
  EXPECT_EQ(s.unlabeled, 30);
  EXPECT_EQ(s.test, 7);
  const fs::path out = dir / "out";
  EXPECT_TRUE(fs::exists(out / ".complete"));
  EXPECT_FALSE(fs::exists(out / ".preparing"));

  // The labeled images are the ones the numpy recipe picks, in its order.
  std::vector<uint8_t> labels(50);
  for (size_t i = 0; i < 50; ++i) labels[i] = uint8_t(i % 10);
  std::vector<int64_t> lab = labeled_split(labels, 2, 0);
  std::vector<LabelRow> order = read_label_csv((out / "labeled_order.csv").string());
  ASSERT_EQ(order.size(), 20u);
  char name[32];
  for (size_t k = 0; k < 20; ++k) {
    std::snprintf(name, sizeof(name), "%05lld.png", (long long)lab[k]);
    EXPECT_EQ(order[k].file, fashion_mnist_classes()[size_t(lab[k] % 10)] + "/" + name);
    EXPECT_EQ(order[k].label, lab[k] % 10);
  }
  std::vector<std::string> classes = read_class_names((out / "classes.txt").string());
  EXPECT_EQ(classes, fashion_mnist_classes());
  LoadOptions lo;
  lo.classes = classes;
  Dataset labeled = load_labeled_tree((out / "labeled").string(), lo);
  EXPECT_EQ(labeled.size(), 20);
  std::vector<std::string> order_files;
  for (const LabelRow& r : order) order_files.push_back(r.file);
  std::vector<int64_t> in_order = indices_of(labeled, order_files);
  for (size_t k = 0; k < 20; ++k) EXPECT_EQ(labeled.labels[size_t(in_order[k])], order[k].label);
  // Pixels survive: grey replicated to RGB.
  const Image& first = labeled.image(in_order[0]);
  ASSERT_EQ(first.width, 28);
  for (size_t p = 0; p < 784; p += 97) EXPECT_EQ(first.rgb[p * 3 + 1], uint8_t((lab[0] * 7 + p * 3) % 256));

  Dataset unl = load_unlabeled_folder((out / "unlabeled").string());
  EXPECT_EQ(unl.size(), 30);
  std::vector<LabelRow> truth = read_label_csv((out / "unlabeled_labels.csv").string());
  ASSERT_EQ(truth.size(), 30u);
  for (const LabelRow& r : truth) EXPECT_EQ(r.label, std::stoll(r.file.substr(0, 5)) % 10);
  Dataset test = load_test_folder((out / "test").string(), (out / "test_labels.csv").string());
  EXPECT_EQ(test.labels, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));

  // Idempotent; other settings are refused; a foreign folder is not written into.
  auto mtime = fs::last_write_time(out / "test" / "00000.png");
  EXPECT_TRUE(prepare_fashion_mnist(opts).already_complete);
  EXPECT_EQ(fs::last_write_time(out / "test" / "00000.png"), mtime);
  FashionMnistOptions other = opts;
  other.seed = 1;
  EXPECT_ERROR_HAS(prepare_fashion_mnist(other), "prepared with other settings", "seed=0");
  fs::create_directories(dir / "foreign");
  write_file(dir / "foreign" / "mine.txt", "x");
  other.out = (dir / "foreign").string();
  EXPECT_ERROR_HAS(prepare_fashion_mnist(other), "was not written by effnet prepare");
  // An interrupted run (no .complete) is redone from clean folders.
  fs::remove(out / ".complete");
  write_file(out / ".preparing", "x");
  write_file(out / "labeled" / "Bag" / "99999.png", "stale");
  other.out = opts.out;
  other.labels_per_class = 3;
  EXPECT_EQ(prepare_fashion_mnist(other).labeled, 30);
  EXPECT_FALSE(fs::exists(out / "labeled" / "Bag" / "99999.png"));
  EXPECT_ERROR_HAS(prepare_fashion_mnist([&] { auto o = other; o.labels_per_class = 6; o.out = (dir / "o6").string(); return o; }()),
                   "fewer than the 6 asked for");
}
