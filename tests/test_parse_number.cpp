// Strict number parsing (framework/core/parse_number.h) and the messages of the readers that use
// it: a field that is not a number names the field, the file and line (or the option), instead
// of std::stoll's bare "stoll" or a number read from the front of "12abc".
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "apps/metrics_log.h"
#include "framework/core/dtype.h"
#include "framework/core/parse_number.h"
#include "framework/core/tensor.h"
#include "framework/data/dataset.h"
#include "tests/testing/errors.h"
#include "tests/testing/files.h"

using namespace effnet;
using namespace effnet::testing;
namespace fs = std::filesystem;

namespace {

TEST(ParseNumber, WholeTextOnly) {
  EXPECT_EQ(parse_int64("42"), 42);
  EXPECT_EQ(parse_int64("-7"), -7);
  EXPECT_EQ(parse_int64("+3"), 3);
  EXPECT_EQ(parse_int64("9223372036854775807"), INT64_MAX);
  for (const char* bad : {"", "x", "12abc", "1.5", " 1", "1 ", "9223372036854775808", "0x10"})
    EXPECT_FALSE(parse_int64(bad).has_value()) << "'" << bad << "'";
  EXPECT_EQ(parse_double("0.005"), 0.005);
  EXPECT_EQ(parse_double("-1e-3"), -1e-3);
  EXPECT_EQ(parse_double("1e-320"), 1e-320);  // subnormal: a value, though strtod flags ERANGE
  EXPECT_TRUE(std::isnan(*parse_double("nan")));
  for (const char* bad : {"", "abc", "1.5x", " 2", "2 ", "1e400", "--1"})
    EXPECT_FALSE(parse_double(bad).has_value()) << "'" << bad << "'";
}

TEST(ParseNumber, ReadersNameTheFieldAndWhereItIs) {
  const fs::path dir = test_temp_dir();
  const std::string labels = (dir / "labels.csv").string();
  write_file(labels, "file,label\na.png,3x\n");
  EXPECT_ERROR_HAS(data::read_label_csv(labels), labels + ":2: label '3x' is not an integer in 'a.png,3x'");
  write_file(labels, "file,label,confidence\na.png,3,high\n");
  EXPECT_ERROR_HAS(data::read_label_csv(labels), labels + ":2: confidence 'high' is not a number");

  const std::string metrics = (dir / "metrics.csv").string();
  write_file(metrics,
             "stage,epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,best,seconds,images_per_second\n"
             "finetune,1,0.005,oops,0.5,1.0,0.5,1,10,400\n");
  EXPECT_ERROR_HAS(app::read_metrics_csv(metrics), metrics + ":2: column 4 of ", "is not a number: 'oops'");

  EXPECT_ERROR_HAS(Device::parse("cuda:x"), "unknown device 'cuda:x'");
  EXPECT_ERROR_HAS(Device::parse("cuda:-1"), "unknown device 'cuda:-1'");
  EXPECT_EQ(Device::parse("cuda:0"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  EXPECT_ERROR_HAS(Device::parse("cuda:1"), "one GPU", "CUDA_VISIBLE_DEVICES=1");
  EXPECT_ERROR_HAS(Tensor::empty({2}, DType::Float32, Device::cuda(1)), "cuda:1", "CUDA_VISIBLE_DEVICES");
}

}  // namespace
