// The NCCL communicator (see communicator.h, backends.h): CUDA tensors, one rank per GPU, the
// unique id made by rank 0 and broadcast over MPI. Every collective runs on one communication
// stream of its own, ordered after the work queued so far on the compute stream (an event), and
// the compute stream is ordered after it in wait(); so backward kernels keep running while a
// bucket of gradients is reduced, and NCCL's operations stay in one order on every rank.
// NCCL cannot tell a dead peer from a slow one, so wait() polls the operation with a bound
// (EFFNET_NCCL_TIMEOUT seconds, default 600) and ncclCommGetAsyncError, and on either failure
// aborts the communicator and throws; the command line then ends the job (MPI_Abort).
// NOT YET RUN ON A GPU: compiled and linked on the CPU machine only (docs/distributed.md).
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "framework/core/context.h"
#include "framework/core/cuda_check.h"
#include "framework/dist/backends.h"

namespace effnet::dist::detail {
namespace {

#define EFFNET_NCCL_CHECK(expr)                                                                    \
  do {                                                                                             \
    const ncclResult_t _r = (expr);                                                                \
    EFFNET_CHECK(_r == ncclSuccess, "nccl: ", #expr, " failed: ", ncclGetErrorString(_r));          \
  } while (0)

ncclDataType_t nccl_type(const Tensor& t) {
  switch (t.dtype()) {
    case DType::Float32: return ncclFloat32;
    case DType::Float64: return ncclFloat64;
    case DType::Int64: return ncclInt64;
  }
  EFFNET_THROW("nccl: unsupported dtype ", dtype_name(t.dtype()));
}

double timeout_seconds() {
  const char* s = std::getenv("EFFNET_NCCL_TIMEOUT");
  const double v = s ? std::atof(s) : 0.0;
  return v > 0 ? v : 600.0;
}

class NcclWork : public Work {
 public:
  NcclWork(ncclComm_t comm, cudaEvent_t done) : comm_(comm), done_(done) {}
  ~NcclWork() override { cudaEventDestroy(done_); }
  void wait() override {
    if (waited_) return;
    waited_ = true;
    const auto t0 = std::chrono::steady_clock::now();
    const double limit = timeout_seconds();
    for (;;) {
      const cudaError_t q = cudaEventQuery(done_);
      if (q == cudaSuccess) break;
      EFFNET_CHECK(q == cudaErrorNotReady, "nccl: waiting for a collective: ", cudaGetErrorString(q));
      ncclResult_t async = ncclSuccess;
      EFFNET_NCCL_CHECK(ncclCommGetAsyncError(comm_, &async));
      if (async != ncclSuccess) {
        ncclCommAbort(comm_);
        EFFNET_THROW("nccl: a collective failed on this rank (", ncclGetErrorString(async),
                     "): another rank has probably died or errored");
      }
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > limit) {
        ncclCommAbort(comm_);
        EFFNET_THROW("nccl: a collective did not finish within ", limit,
                     " s (EFFNET_NCCL_TIMEOUT): another rank has probably died or hangs");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(), done_, 0));
  }

 private:
  ncclComm_t comm_;
  cudaEvent_t done_;
  bool waited_ = false;
};

class Nccl : public Communicator {
 public:
  explicit Nccl(Communicator& host) : rank_(host.rank()), size_(host.size()) {
    // The 128-byte id travels as 16 int64 values, the host communicator's smallest unit.
    static_assert(sizeof(ncclUniqueId) % sizeof(int64_t) == 0, "ncclUniqueId size");
    Tensor id_words = Tensor::empty({int64_t(sizeof(ncclUniqueId) / sizeof(int64_t))}, DType::Int64);
    ncclUniqueId id;
    if (rank_ == 0) EFFNET_NCCL_CHECK(ncclGetUniqueId(&id));
    std::memcpy(id_words.raw_data(), &id, sizeof id);
    host.broadcast(id_words, 0);
    std::memcpy(&id, id_words.raw_data(), sizeof id);
    EFFNET_NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  ~Nccl() override {
    cudaStreamSynchronize(stream_);
    ncclCommDestroy(comm_);
    cudaStreamDestroy(stream_);
  }
  const char* backend() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::unique_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op) override {
    check(t, "all_reduce");
    EFFNET_CHECK(op == ReduceOp::Sum || t.dtype() != DType::Int64, "nccl all_reduce: Mean needs a floating tensor");
    after_compute();
    EFFNET_NCCL_CHECK(ncclAllReduce(t.raw_data(), t.raw_data(), size_t(t.numel()), nccl_type(t),
                                    op == ReduceOp::Mean ? ncclAvg : ncclSum, comm_, stream_));
    t.bump_version();
    return std::make_unique<NcclWork>(comm_, record());
  }
  void broadcast(const Tensor& t, int root) override {
    check(t, "broadcast");
    after_compute();
    EFFNET_NCCL_CHECK(ncclBroadcast(t.raw_data(), t.raw_data(), size_t(t.numel()), nccl_type(t), root, comm_, stream_));
    t.bump_version();
    NcclWork(comm_, record()).wait();
  }
  std::vector<uint8_t> all_gather_bytes(const void*, size_t) override {
    EFFNET_THROW("nccl: all_gather_bytes gathers host data; use the host (MPI) communicator");
  }
  void barrier() override {
    EFFNET_THROW("nccl: barrier is a host operation; use the host (MPI) communicator");
  }

 private:
  void check(const Tensor& t, const char* op) const {
    EFFNET_CHECK(t.is_cuda(), "nccl ", op, ": ", t.str(), " is not on the GPU");
  }
  // The communication stream waits for what the compute stream has queued (the gradients).
  void after_compute() {
    cudaEvent_t ready;
    CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(ready, cuda::stream()));
    CUDA_CHECK(cudaStreamWaitEvent(stream_, ready, 0));
    CUDA_CHECK(cudaEventDestroy(ready));  // released once the wait has been satisfied
  }
  cudaEvent_t record() {
    cudaEvent_t done;
    CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(done, stream_));
    return done;
  }

  int rank_, size_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl(Communicator& host) { return std::make_unique<Nccl>(host); }

}  // namespace effnet::dist::detail
