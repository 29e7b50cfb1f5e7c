// The model and the files the HDF5 fuzz targets load (fuzz_hdf5, fuzz_hdf5_fields): three layers of
// the kinds an EfficientNet holds (a 4-d weight, BatchNorm's buffers, a classifier with a bias), a
// few hundred values, so that loading runs the same code paths as a real model at fuzzing speed.
#pragma once

#include <hdf5.h>

#include <memory>
#include <string>

#include "framework/optim/adam.h"
#include "fuzz_input.h"
#include "layers/batch_norm.h"
#include "layers/conv.h"
#include "layers/linear.h"
#include "weights/checkpoint.h"
#include "weights/model_io.h"

namespace effnet::fuzz {

class SmallNet : public nn::Module {
 public:
  SmallNet() {
    Generator gen(7);
    nn::Conv2dOptions conv;
    conv.in_channels = 3;
    conv.out_channels = 4;
    conv.kernel = 3;
    register_module("stem", std::make_shared<nn::Conv2d>(conv, gen));
    register_module("bn", std::make_shared<nn::BatchNorm2d>(4));
    register_module("classifier", std::make_shared<nn::Linear>(4, 3, true, gen));
  }
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "SmallNet"; }
};

inline WeightsMeta small_meta() {
  WeightsMeta m;
  m.config = config_for("b0", 3);
  m.source = "fuzz";
  return m;
}

// A checkpoint of SmallNet with Adam's state after one step (or without optimizer state).
inline void save_small_checkpoint(const std::string& path, bool with_optimizer) {
  SmallNet net;
  Adam adam(net.trainable_parameters());
  for (Tensor& p : net.trainable_parameters()) p.set_grad(ones_like(p));
  adam.step();
  TrainingState s;
  s.stage = "finetune";
  s.epoch = 2;
  s.step = 1;
  s.best_metric = 0.5;
  s.best_epoch = 1;
  s.config = "model = b0\nbatch = 4\n";
  save_checkpoint(path, net, small_meta(), with_optimizer ? &adam : nullptr, s);
}

// Every HDF5 id the loaders open is closed again on every path, errors included: an id left open
// keeps the file open (and its memory) until the process ends.
inline void expect_nothing_open(const char* loader) {
  const ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (open != 0) abort_with("HDF5 objects left open", std::string(loader) + ": " + std::to_string(open));
}

}  // namespace effnet::fuzz
