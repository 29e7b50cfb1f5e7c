// Dropout and DropConnect layers (see regularization.h).
#include "layers/regularization.h"

#include "framework/ops/dropout.h"

namespace effnet::nn {

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, is_training(), default_generator()); }
Tensor DropConnect::forward(const Tensor& x) { return drop_connect(x, p_, is_training(), default_generator()); }

}  // namespace effnet::nn
