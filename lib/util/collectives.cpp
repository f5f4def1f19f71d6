#include "util/collectives.h"

#include <algorithm>

namespace moe {
namespace {

// The handle of a collective that completed inside its start call.
class Finished final : public PendingCollective {
 public:
  bool done() override { return true; }
  void wait() override {}
};

}  // namespace

std::unique_ptr<PendingCollective> Collectives::start_all_reduce_sum(float* data, std::size_t count) {
  all_reduce_sum(data, count);
  return std::make_unique<Finished>();
}

void SingleProcess::all_to_all(const float* send, float* recv, std::size_t block) {
  std::copy(send, send + block, recv);
}
void SingleProcess::all_to_all(const double* send, double* recv, std::size_t block) {
  std::copy(send, send + block, recv);
}
void SingleProcess::all_gather(const float* send, float* recv, std::size_t block) {
  std::copy(send, send + block, recv);
}

SingleProcess& single_process() {
  static SingleProcess instance;
  return instance;
}

}  // namespace moe
