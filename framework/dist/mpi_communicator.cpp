// The MPI communicator (see communicator.h, backends.h): CPU tensors and host data over
// MPI_COMM_WORLD. Non-blocking all-reduce is MPI_Iallreduce in place; MPI advances it only inside
// MPI calls, so progress() (MPI_Test) is called while backward runs (gradient_reducer.cpp).
// Errors keep MPI's default handler (MPI_ERRORS_ARE_FATAL): a failed collective ends the job.
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <memory>

#include "framework/dist/backends.h"

namespace effnet::dist::detail {
namespace {

bool g_we_initialised = false;

MPI_Datatype mpi_type(const Tensor& t) {
  switch (t.dtype()) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int64: return MPI_INT64_T;
  }
  EFFNET_THROW("mpi: unsupported dtype ", dtype_name(t.dtype()));
}

int mpi_count(const Tensor& t, const char* op) {
  EFFNET_CHECK(!t.is_cuda(), "mpi ", op, ": ", t.str(), " is on the GPU; the MPI backend serves CPU tensors");
  EFFNET_CHECK(t.numel() <= INT_MAX, "mpi ", op, ": ", t.numel(), " elements exceed MPI's int count");
  return int(t.numel());
}

// The request is shared between the work and the communicator's list of outstanding requests, so
// progress() can test it: MPI_Test sets a completed request to MPI_REQUEST_NULL, on which the
// work's MPI_Wait returns at once.
using SharedRequest = std::shared_ptr<MPI_Request>;

class MpiWork : public Work {
 public:
  MpiWork(Tensor t, ReduceOp op, int size)
      : t_(std::move(t)), op_(op), size_(size), request_(std::make_shared<MPI_Request>(MPI_REQUEST_NULL)) {}
  const SharedRequest& request() const { return request_; }
  void wait() override {
    if (done_) return;
    MPI_Wait(request_.get(), MPI_STATUS_IGNORE);
    done_ = true;
    t_.bump_version();
    if (op_ == ReduceOp::Mean && size_ > 1) t_.mul_(1.0 / size_);
  }
  ~MpiWork() override {
    // A request must not be abandoned while MPI may still write into the tensor.
    if (!done_) MPI_Wait(request_.get(), MPI_STATUS_IGNORE);
  }

 private:
  Tensor t_;
  ReduceOp op_;
  int size_;
  SharedRequest request_;
  bool done_ = false;
};

class MpiWorld : public Communicator {
 public:
  MpiWorld() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  const char* backend() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::unique_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op) override {
    EFFNET_CHECK(op == ReduceOp::Sum || t.dtype() != DType::Int64, "mpi all_reduce: Mean needs a floating tensor");
    const int n = mpi_count(t, "all_reduce");
    forget_completed();
    auto work = std::make_unique<MpiWork>(t, op, size_);
    MPI_Iallreduce(MPI_IN_PLACE, t.raw_data(), n, mpi_type(t), MPI_SUM, MPI_COMM_WORLD, work->request().get());
    outstanding_.push_back(work->request());
    return work;
  }
  void broadcast(const Tensor& t, int root) override {
    MPI_Bcast(t.raw_data(), mpi_count(t, "broadcast"), mpi_type(t), root, MPI_COMM_WORLD);
    t.bump_version();
  }
  std::vector<uint8_t> all_gather_bytes(const void* data, size_t bytes) override {
    EFFNET_CHECK(bytes <= size_t(INT_MAX), "mpi all_gather: ", bytes, " bytes exceed MPI's int count");
    std::vector<int> counts(size_t(size_), 0), displs(size_t(size_), 0);
    const int mine = int(bytes);
    MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
    long long total = 0;
    for (int r = 0; r < size_; ++r) {
      displs[size_t(r)] = int(total);
      total += counts[size_t(r)];
    }
    EFFNET_CHECK(total <= INT_MAX, "mpi all_gather: ", total, " bytes in all exceed MPI's int count");
    std::vector<uint8_t> out(static_cast<size_t>(total));
    MPI_Allgatherv(data, mine, MPI_BYTE, out.data(), counts.data(), displs.data(), MPI_BYTE, MPI_COMM_WORLD);
    return out;
  }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  void progress() override {
    // Each MPI_Test lets OpenMPI's progress engine move the outstanding collectives on.
    int flag = 0;
    for (const SharedRequest& r : outstanding_)
      if (*r != MPI_REQUEST_NULL) MPI_Test(r.get(), &flag, MPI_STATUS_IGNORE);
    forget_completed();
  }

 private:
  // Drops the requests that are complete (MPI sets them to MPI_REQUEST_NULL, in a work's wait or
  // in progress()).
  void forget_completed() {
    outstanding_.erase(std::remove_if(outstanding_.begin(), outstanding_.end(),
                                      [](const SharedRequest& r) { return *r == MPI_REQUEST_NULL; }),
                       outstanding_.end());
  }

  int rank_ = 0, size_ = 1;
  std::vector<SharedRequest> outstanding_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_world() {
  int ready = 0;
  MPI_Initialized(&ready);
  if (!ready) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    g_we_initialised = true;
  }
  return std::make_unique<MpiWorld>();
}

void finalize_mpi() {
  int done = 0;
  MPI_Finalized(&done);
  if (g_we_initialised && !done) MPI_Finalize();
  g_we_initialised = false;
}

void abort_mpi(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest if it does
}

}  // namespace effnet::dist::detail
