// The command-line parser's range checks: every numeric option declares the values it allows, and
// a value outside them — from the command line or from a config file — is refused before any work,
// with a message naming the option, the value, where it came from and the allowed range.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/options.h"
#include "tests/testing/errors.h"

using namespace effnet;
using namespace effnet::cli;

namespace {

// Parses `words` (after "effnet finetune") into `args`.
void parse(Args& args, std::vector<std::string> words) {
  words.insert(words.begin(), {"effnet", "finetune"});
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  args.parse(int(argv.size()), argv.data(), 2);
}

// The options `effnet finetune` shares with retrain and the pipeline.
Args training_args() {
  Args args("finetune", "test");
  add_training_options(args);
  add_stopping_options(args, "30", "10");
  return args;
}

}  // namespace

TEST(Range, BoundsAndText) {
  EXPECT_TRUE(Range::at_least(0).contains(0));
  EXPECT_FALSE(Range::above(0).contains(0));
  EXPECT_TRUE(Range::from_below(0, 1).contains(0.999));
  EXPECT_FALSE(Range::from_below(0, 1).contains(1));
  EXPECT_FALSE(Range::any().contains(NAN));
  EXPECT_EQ(Range::at_least(0).text(), ">= 0");
  EXPECT_EQ(Range::above(0).text(), "> 0");
  EXPECT_EQ(Range::from_below(0, 1).text(), "in [0, 1)");
  EXPECT_EQ(Range::between(0, 4096).text(), "in [0, 4096]");
}

// Each was once taken silently: a negative size as "the checkpoint's", negative patience and
// workers as the defaults, a huge crop padding as a NaN validation loss.
TEST(CliRanges, OutOfRangeValuesOnTheCommandLineNameOptionValueAndRange) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--image-size", "-5"}, "--image-size -5 (on the command line) is out of range: it must be in [0, 4096]"},
      {{"--patience", "-1"}, "--patience -1 (on the command line) is out of range: it must be >= 0"},
      {{"--workers=-2"}, "--workers -2 (on the command line) is out of range: it must be in [0, 256]"},
      {{"--crop-padding", "99999999999"},
       "--crop-padding 99999999999 (on the command line) is out of range: it must be in [0, 4096]"},
      {{"--lr", "0"}, "--lr 0 (on the command line) is out of range: it must be > 0"},
      {{"--momentum", "1"}, "--momentum 1 (on the command line) is out of range: it must be in [0, 1)"},
      {{"--batch", "0"}, "--batch 0 (on the command line) is out of range: it must be in [1, 65536]"},
      {{"--epochs", "0"}, "--epochs 0 (on the command line) is out of range: it must be in [1, 100000]"},
      {{"--lr", "nan"}, "--lr nan (on the command line) is not a finite number"},
      {{"--flip", "inf"}, "--flip inf (on the command line) is not a finite number"},
      {{"--patience", "two"}, "--patience expects a number, got 'two' (on the command line)"},
  };
  for (const auto& c : cases) {
    Args args = training_args();
    EXPECT_ERROR_HAS(parse(args, c.first), "effnet finetune: ", c.second);
  }
}

TEST(CliRanges, ConfigFileValuesNameTheFileAndLine) {
  Args args = training_args();
  parse(args, {});
  EXPECT_ERROR_HAS(args.set_default("patience", "-3", "config file run.conf:7"),
                   "--patience -3 (from config file run.conf:7) is out of range: it must be >= 0");
  args.set_default("image-size", "64", "config file run.conf:8");
  EXPECT_EQ(args.integer("image-size"), 64);
}

TEST(CliRanges, ValuesInRangeAndDefaultsAreRead) {
  Args args = training_args();
  parse(args, {"--image-size", "0", "--patience", "0", "--workers", "3", "--crop-padding", "4"});
  EXPECT_EQ(args.integer("image-size"), 0);
  EXPECT_EQ(args.integer("patience"), 0);
  EXPECT_EQ(args.integer("workers"), 3);
  EXPECT_DOUBLE_EQ(args.number("lr"), 0.005);
  // A ranged integer option given a fraction is in range as a number but still not an integer.
  parse(args, {"--patience", "2.5"});
  EXPECT_ERROR_HAS(args.integer("patience"), "--patience expects an integer, got '2.5'");
}

TEST(CliRanges, HelpShowsTheRange) {
  const std::string help = training_args().help();
  EXPECT_NE(help.find("--patience VALUE (default: 10) [>= 0]"), std::string::npos) << help;
  EXPECT_NE(help.find("--flip VALUE (default: 0.5) [in [0, 1]]"), std::string::npos) << help;
}
