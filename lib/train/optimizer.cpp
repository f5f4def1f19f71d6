#include "train/optimizer.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace moe::train {
namespace {

// A parameter seen as `batch` independent [rows, cols] matrices (or vectors
// when cols == numel and rows == 1).
struct MatrixLayout {
  std::int64_t batch = 1, rows = 1, cols = 1;
};

MatrixLayout layout_of(const ParamRef& p) {
  const Shape& s = p.value.shape();
  MatrixLayout l;
  int d = 0;
  for (; d < p.batch_dims && d < s.rank(); ++d) l.batch *= s[d];
  const int inner = s.rank() - d;
  if (inner <= 1) {
    l.cols = inner == 1 ? s[d] : 1;
  } else {
    l.cols = s.back();
    l.rows = p.value.numel() / (l.batch * l.cols);
  }
  return l;
}

class Adafactor final : public Optimizer {
 public:
  Adafactor(const config::OptimizerConfig& cfg, const std::vector<ParamRef>& params) : cfg_(cfg) {
    for (const auto& p : params) {
      Slot slot;
      slot.layout = layout_of(p);
      const MatrixLayout& l = slot.layout;
      slot.factored = l.rows > 1 && std::min(l.rows, l.cols) >= cfg.min_dim_size_to_factor;
      if (slot.factored) {
        slot.row = Tensor<float>(Shape{l.batch, l.rows});
        slot.col = Tensor<float>(Shape{l.batch, l.cols});
      } else {
        slot.full = Tensor<float>(p.value.shape());
      }
      if (cfg.beta1 > 0) slot.momentum = Tensor<float>(p.value.shape());
      slot.name = p.name;
      slots_.push_back(std::move(slot));
    }
    // Every matrix is independent (its statistics, clipping and scale are its
    // own), so update() shares them out over the threads; each matrix stays on
    // one thread, which keeps its sums in a fixed order and the update
    // deterministic. Largest first, so the embedding does not start last on an
    // idle team.
    for (std::size_t i = 0; i < slots_.size(); ++i)
      for (std::int64_t b = 0; b < slots_[i].layout.batch; ++b) work_.push_back({i, b});
    auto size = [&](const WorkItem& x) { return slots_[x.slot].layout.rows * slots_[x.slot].layout.cols; };
    std::stable_sort(work_.begin(), work_.end(),
                     [&](const WorkItem& x, const WorkItem& y) { return size(x) > size(y); });
  }

  void update(const std::vector<ParamRef>& params, double lr, std::int64_t step) override {
    MOE_CHECK(params.size() == slots_.size(), "parameter list changed since construction");
    const double decay = 1.0 - std::pow(static_cast<double>(step) + 1.0, -cfg_.decay_pow);
#pragma omp parallel for schedule(dynamic, 1)
    for (std::size_t k = 0; k < work_.size(); ++k) {
      const auto [i, b] = work_[k];
      const std::int64_t per = slots_[i].layout.rows * slots_[i].layout.cols;
      update_matrix(slots_[i], b, params[i].value.data() + b * per, params[i].grad.data() + b * per,
                    lr, decay);
    }
  }

  std::vector<NamedState> state() override {
    std::vector<NamedState> out;
    for (auto& s : slots_) {
      if (s.factored) {
        out.push_back({s.name + ".adafactor_row", s.row.view()});
        out.push_back({s.name + ".adafactor_col", s.col.view()});
      } else {
        out.push_back({s.name + ".adafactor_v", s.full.view()});
      }
      if (cfg_.beta1 > 0) out.push_back({s.name + ".adafactor_m", s.momentum.view()});
    }
    return out;
  }

 private:
  struct Slot {
    std::string name;
    MatrixLayout layout;
    bool factored = false;
    Tensor<float> row, col, full, momentum;
  };
  struct WorkItem {
    std::size_t slot;     // index into slots_
    std::int64_t batch;   // matrix of that parameter
  };

  // Updates matrix b of a parameter: w, g point at its rows*cols elements.
  // Statistics and sums are in double, as the reference keeps them; the
  // factored preconditioner 1/sqrt(row[r] * col[c] / mean(row)) is split into
  // a row factor and a column factor so the element loops are plain products.
  void update_matrix(Slot& slot, std::int64_t b, float* w, const float* g, double lr,
                     double decay) {
    const std::int64_t R = slot.layout.rows, C = slot.layout.cols, n = R * C;
    const double eps1 = cfg_.eps1;
    thread_local std::vector<double> row_factor, col_factor;
    if (slot.factored) {
      float* row = slot.row.data() + b * R;
      float* col = slot.col.data() + b * C;
      col_factor.assign(C, 0.0);  // column sums of g^2 + eps1 first
      double row_mean = 0;
      for (std::int64_t r = 0; r < R; ++r) {
        const float* gr = g + r * C;
        double acc = 0;
        for (std::int64_t c = 0; c < C; ++c) {
          const double g2 = double(gr[c]) * gr[c] + eps1;
          acc += g2;
          col_factor[c] += g2;
        }
        row[r] = static_cast<float>(decay * row[r] + (1 - decay) * (acc / C));
        row_mean += row[r];
      }
      row_mean /= R;
      row_factor.resize(R);
      for (std::int64_t r = 0; r < R; ++r) row_factor[r] = 1.0 / std::sqrt(double(row[r]) / row_mean);
      for (std::int64_t c = 0; c < C; ++c) {
        col[c] = static_cast<float>(decay * col[c] + (1 - decay) * (col_factor[c] / R));
        col_factor[c] = 1.0 / std::sqrt(double(col[c]));
      }
    } else {
      // An unfactored tensor is one "row" whose column factors are per element.
      float* full = slot.full.data() + b * n;
      col_factor.resize(n);
      for (std::int64_t k = 0; k < n; ++k) {
        full[k] = static_cast<float>(decay * full[k] + (1 - decay) * (double(g[k]) * g[k] + eps1));
        col_factor[k] = 1.0 / std::sqrt(double(full[k]));
      }
      row_factor.assign(1, 1.0);
    }
    const std::int64_t rows = slot.factored ? R : 1, cols = slot.factored ? C : n;
    const double* cf = col_factor.data();
    // Update clipping needs RMS(U) before any element is applied.
    double sum_u2 = 0, sum_w2 = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* gr = g + r * cols;
      const float* wr = w + r * cols;
      const double rf = row_factor[r];
      double u2 = 0, w2 = 0;
#pragma omp simd reduction(+ : u2, w2)
      for (std::int64_t c = 0; c < cols; ++c) {
        const double u = gr[c] * (rf * cf[c]);
        u2 += u * u;
        w2 += double(wr[c]) * wr[c];
      }
      sum_u2 += u2;
      sum_w2 += w2;
    }
    const double rms_u = std::sqrt(sum_u2 / n);
    const double clip = cfg_.clip_threshold > 0 ? std::max(1.0, rms_u / cfg_.clip_threshold) : 1.0;
    double scale = lr;
    if (cfg_.multiply_by_parameter_scale) scale *= std::max(cfg_.eps2, std::sqrt(sum_w2 / n));
    float* m = cfg_.beta1 > 0 ? slot.momentum.data() + b * n : nullptr;
    const double beta1 = cfg_.beta1;
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* gr = g + r * cols;
      float* wr = w + r * cols;
      const double rf = row_factor[r] / clip;
      if (m) {
        float* mr = m + r * cols;
#pragma omp simd
        for (std::int64_t c = 0; c < cols; ++c) {
          mr[c] = static_cast<float>(beta1 * mr[c] + (1 - beta1) * (gr[c] * (rf * cf[c])));
          wr[c] = static_cast<float>(wr[c] - scale * mr[c]);
        }
      } else {
#pragma omp simd
        for (std::int64_t c = 0; c < cols; ++c)
          wr[c] = static_cast<float>(wr[c] - scale * (gr[c] * (rf * cf[c])));
      }
    }
  }

  config::OptimizerConfig cfg_;
  std::vector<Slot> slots_;
  std::vector<WorkItem> work_;  // every (parameter, matrix) pair, largest first
};

class Adam final : public Optimizer {
 public:
  Adam(const config::OptimizerConfig& cfg, const std::vector<ParamRef>& params, bool decoupled)
      : cfg_(cfg), decoupled_(decoupled) {
    for (const auto& p : params) {
      names_.push_back(p.name);
      m_.emplace_back(p.value.shape());
      v_.emplace_back(p.value.shape());
    }
  }

  void update(const std::vector<ParamRef>& params, double lr, std::int64_t step) override {
    MOE_CHECK(params.size() == m_.size(), "parameter list changed since construction");
    const double b1 = cfg_.beta1, b2 = cfg_.beta2, wd = cfg_.weight_decay;
    const double c1 = 1.0 - std::pow(b1, static_cast<double>(step) + 1.0);
    const double c2 = 1.0 - std::pow(b2, static_cast<double>(step) + 1.0);
    for (std::size_t i = 0; i < params.size(); ++i) {
      float* w = params[i].value.data();
      const float* g = params[i].grad.data();
      float* m = m_[i].data();
      float* v = v_[i].data();
      const std::int64_t n = params[i].value.numel();
#pragma omp parallel for simd if (n > 65536)
      for (std::int64_t k = 0; k < n; ++k) {
        double gk = g[k];
        if (!decoupled_) gk += wd * w[k];  // Adam's L2 penalty enters the gradient
        m[k] = static_cast<float>(b1 * m[k] + (1 - b1) * gk);
        v[k] = static_cast<float>(b2 * v[k] + (1 - b2) * gk * gk);
        double delta = (m[k] / c1) / (std::sqrt(v[k] / c2) + cfg_.eps);
        if (decoupled_) delta += wd * w[k];
        w[k] = static_cast<float>(w[k] - lr * delta);
      }
    }
  }

  std::vector<NamedState> state() override {
    std::vector<NamedState> out;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      out.push_back({names_[i] + ".adam_m", m_[i].view()});
      out.push_back({names_[i] + ".adam_v", v_[i].view()});
    }
    return out;
  }

 private:
  config::OptimizerConfig cfg_;
  bool decoupled_;
  std::vector<std::string> names_;
  std::vector<Tensor<float>> m_, v_;
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const config::OptimizerConfig& cfg,
                                          const std::vector<ParamRef>& params) {
  for (const auto& p : params)
    MOE_CHECK(p.value.shape() == p.grad.shape(), p.name + ": gradient shape differs");
  switch (cfg.name) {
    case config::OptimizerKind::kAdafactor:
      return std::make_unique<Adafactor>(cfg, params);
    case config::OptimizerKind::kAdam:
      return std::make_unique<Adam>(cfg, params, /*decoupled=*/false);
    case config::OptimizerKind::kAdamW:
      return std::make_unique<Adam>(cfg, params, /*decoupled=*/true);
  }
  throw InternalError("unknown optimizer");
}

double grad_squared_norm(const std::vector<ParamRef>& params) {
  double total = 0;
  for (const auto& p : params) {
    const float* g = p.grad.data();
    const std::int64_t n = p.grad.numel();
    double s = 0;
#pragma omp parallel for reduction(+ : s) if (n > 65536)
    for (std::int64_t k = 0; k < n; ++k) s += double(g[k]) * g[k];
    total += s;
  }
  return total;
}

void scale_grads(const std::vector<ParamRef>& params, float factor) {
  for (const auto& p : params) p.grad.vector() *= factor;
}

}  // namespace moe::train
