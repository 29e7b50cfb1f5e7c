// Inputs that are not regular files — a FIFO, a folder, a device — named where the project
// expects an image, a CSV, a config, a metrics log or an HDF5 file: each reader refuses at once,
// naming the file, what it expected and what it found, and never blocks on a FIFO. (Without the
// non-blocking open, the first FIFO below would hang this test until ctest's timeout.)
#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "apps/config_file.h"
#include "apps/metrics_log.h"
#include "framework/core/input_file.h"
#include "framework/data/dataset.h"
#include "framework/data/image.h"
#include "layers/regularization.h"
#include "tests/testing/errors.h"
#include "tests/testing/files.h"
#include "weights/model_io.h"

using namespace effnet;
using namespace effnet::testing;
namespace fs = std::filesystem;

namespace {

fs::path make_fifo(const fs::path& p) {
  EXPECT_EQ(::mkfifo(p.c_str(), 0644), 0) << p;
  return p;
}

TEST(InputFile, EveryReaderRefusesAFifoAFolderAndADeviceWithoutBlocking) {
  const fs::path dir = test_temp_dir();
  const std::string fifo = make_fifo(dir / "pipe").string(), folder = dir.string();
  const std::string fifo_reason = "it is a FIFO (named pipe), not a regular file";

  EXPECT_ERROR_HAS(read_input_file(fifo, "thing"), fifo + ": cannot read thing: " + fifo_reason);
  EXPECT_ERROR_HAS(read_input_file(folder, "thing"), folder + ": cannot read thing: it is a folder");
  EXPECT_ERROR_HAS(read_input_file("/dev/null", "thing"), "/dev/null: cannot read thing: it is a device");
  EXPECT_ERROR_HAS(read_input_file((dir / "none").string(), "thing"), "none: cannot open thing: No such file");
  write_file(dir / "ok.txt", "bytes\n");
  EXPECT_EQ(read_input_file((dir / "ok.txt").string(), "thing"), "bytes\n");

  EXPECT_ERROR_HAS(data::decode_image(fifo), fifo + ": cannot read image: " + fifo_reason);
  EXPECT_ERROR_HAS(data::read_label_csv(fifo), fifo + ": cannot read label list: " + fifo_reason);
  EXPECT_ERROR_HAS(data::read_class_names(fifo), fifo + ": cannot read class list: " + fifo_reason);
  EXPECT_ERROR_HAS(app::read_config_file(fifo), fifo + ": cannot read config file: " + fifo_reason);
  EXPECT_ERROR_HAS(app::read_metrics_csv(fifo), fifo + ": cannot read metrics file: " + fifo_reason);
  nn::Dropout none(0.1);  // any module: the file is refused before its tensors are looked at
  EXPECT_ERROR_HAS(load_weights(none, fifo), fifo + ": cannot read HDF5 file: " + fifo_reason);
  EXPECT_ERROR_HAS(load_weights(none, folder), folder + ": cannot read HDF5 file: it is a folder");
}

// A FIFO named like an image inside a data folder: an error naming it, or with skip_bad_images a
// skipped file listed with the reason, the other images loaded.
TEST(InputFile, AFifoInAnImageFolderIsABadFile) {
  const fs::path dir = test_temp_dir() / "flat";
  fs::create_directories(dir);
  data::Image img;
  img.width = img.height = 2;
  img.rgb.assign(12, 7);
  data::write_png((dir / "a.png").string(), img);
  const std::string fifo = make_fifo(dir / "b.png").string();
  EXPECT_ERROR_HAS(data::load_unlabeled_folder(dir.string()), fifo + ": cannot read image: it is a FIFO");
  data::LoadOptions opts;
  opts.skip_bad_images = true;
  const data::Dataset ds = data::load_unlabeled_folder(dir.string(), opts);
  EXPECT_EQ(ds.files, std::vector<std::string>{"a.png"});
  ASSERT_EQ(ds.skipped.size(), 1u);
  EXPECT_EQ(ds.skipped[0].path, fifo);
  EXPECT_EQ(ds.skipped[0].reason, "cannot read image: it is a FIFO (named pipe), not a regular file");
}

// Label lists, class lists and config files saved with a UTF-8 byte-order mark (Excel's "CSV
// UTF-8", Notepad) read as without one; the mark was reported as part of the header before.
TEST(InputFile, TextFilesWithAByteOrderMarkReadAsWithout) {
  const fs::path dir = test_temp_dir();
  const std::string bom = "\xEF\xBB\xBF";
  write_file(dir / "labels.csv", bom + "file,label\na.png,3\n");
  const auto rows = data::read_label_csv((dir / "labels.csv").string());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].file, "a.png");
  EXPECT_EQ(rows[0].label, 3);
  write_file(dir / "classes.txt", bom + "cat\ndog\n");
  EXPECT_EQ(data::read_class_names((dir / "classes.txt").string()), (std::vector<std::string>{"cat", "dog"}));
  write_file(dir / "run.conf", bom + "lr = 0.01\n");
  const auto entries = app::read_config_file((dir / "run.conf").string());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].key, "lr");
  EXPECT_EQ(entries[0].value, "0.01");
  // Only a leading mark is dropped: one inside the header is still an error that shows it.
  write_file(dir / "labels.csv", "file," + bom + "label\na.png,3\n");
  EXPECT_ERROR_HAS(data::read_label_csv((dir / "labels.csv").string()), "header must be 'file,label'");
}

}  // namespace
