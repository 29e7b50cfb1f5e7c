// A tiny generated image-classification data set for end-to-end tests of the effnet binary: 4
// classes of 16x16 coloured shapes (square, horizontal bars, vertical bars, cross) on noisy
// backgrounds, in `effnet prepare`'s layout; and the check that two runs' checkpoints hold the same
// tensors (resume tests).
#pragma once

#include <filesystem>
#include <random>

#include "framework/data/image.h"

namespace effnet::testing {

// Class c (0-3): its shape in a jittered colour on a dark noisy background.
data::Image shape_image(int c, std::mt19937& rng);
// root/classes.txt, labeled/<class>/NNNN.png (per_class each), unlabeled/ + unlabeled_labels.csv,
// test/ + test_labels.csv; the same files for the same arguments.
void make_shapes_dataset(const std::filesystem::path& root, int per_class, int unlabeled, int test);
// Every dataset of both checkpoints (groups "/" and, when present, "/optimizer") holds the same
// values (gtest expectations).
void expect_same_tensors(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace effnet::testing
