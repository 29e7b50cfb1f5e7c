// The weight average (see ema.h).
#include "framework/optim/ema.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "framework/autograd/node.h"
#include "framework/core/backend.h"
#include "framework/optim/optim_kernels.h"

namespace effnet {

ExponentialMovingAverage::ExponentialMovingAverage(NamedTensors sources, double decay)
    : sources_(std::move(sources)), decay_(decay) {
  EFFNET_CHECK(std::isfinite(decay) && decay >= 0.0 && decay < 1.0, "weight average: decay must be in [0, 1), got ",
               decay);
  EFFNET_CHECK(!sources_.empty(), "weight average: no tensors to average");
  NoGradGuard no_grad;
  for (const auto& [name, t] : sources_) {
    EFFNET_CHECK(t.defined() && is_floating(t.dtype()), "weight average: '", name, "' is not a float tensor");
    EFFNET_CHECK(t.dtype() == sources_[0].second.dtype() && t.device() == sources_[0].second.device(),
                 "weight average: '", name, "' is ", dtype_name(t.dtype()), " on ", t.device().str(), ", but '",
                 sources_[0].first, "' is ", dtype_name(sources_[0].second.dtype()), " on ",
                 sources_[0].second.device().str(), " (one multi-tensor update needs one dtype and device)");
    averages_.emplace_back(name, t.detach().clone());
  }
}

double ExponentialMovingAverage::decay_at(int64_t t) const {
  return std::min(decay_, (1.0 + double(t)) / (10.0 + double(t)));
}

void ExponentialMovingAverage::update() {
  NoGradGuard no_grad;
  TensorList avgs, srcs;
  for (size_t i = 0; i < sources_.size(); ++i) {
    avgs.push_back(averages_[i].second);
    srcs.push_back(sources_[i].second.detach());
  }
  EmaConfig config;
  config.weight = 1.0 - decay_at(updates_);
  EFFNET_DISPATCH(avgs[0], ema_update, avgs, srcs, config);
  for (const Tensor& a : avgs) a.bump_version();
  updates_++;
}

void ExponentialMovingAverage::swap() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < sources_.size(); ++i) {
    Tensor& src = sources_[i].second;
    Tensor& avg = averages_[i].second;
    Tensor kept = src.detach().clone();
    src.copy_(avg);  // copy_ bumps the version: caches built from the weights (conv_bn_fold) see the change
    avg.copy_(kept);
  }
}

void ExponentialMovingAverage::load_state(const NamedTensors& averages, int64_t updates) {
  EFFNET_CHECK(updates >= 0, "weight average: update count ", updates, " is negative");
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, t] : averages) {
    EFFNET_CHECK(by_name.emplace(name, &t).second, "weight average: '", name, "' is given twice");
  }
  EFFNET_CHECK(by_name.size() == averages_.size(), "weight average: ", by_name.size(), " tensors given for ",
               averages_.size(), " averaged ones");
  for (const auto& [name, avg] : averages_) {
    auto it = by_name.find(name);
    EFFNET_CHECK(it != by_name.end(), "weight average: no value for '", name, "'");
    EFFNET_CHECK(it->second->shape() == avg.shape(), "weight average: '", name, "' has shape ",
                 shape_str(it->second->shape()), ", expected ", shape_str(avg.shape()));
  }
  NoGradGuard no_grad;
  for (auto& [name, avg] : averages_) avg.copy_(*by_name[name]);
  updates_ = updates;
}

}  // namespace effnet
