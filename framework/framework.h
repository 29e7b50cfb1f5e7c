// One include for users of the engine: tensors, autograd, every op family and the optimizers.
#pragma once

#include "framework/autograd/node.h"
#include "framework/core/allocator.h"
#include "framework/core/context.h"
#include "framework/core/creation.h"
#include "framework/core/rng.h"
#include "framework/core/tensor.h"
#include "framework/ops/binary.h"
#include "framework/ops/reduce.h"
