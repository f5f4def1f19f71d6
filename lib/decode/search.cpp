#include "decode/search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "util/error.h"

namespace moe::decode {

namespace {

// Below this much work (rows x V) the per-row top-k runs on one thread.
constexpr std::int64_t kParallelRowWork = 1 << 16;

std::string fmt(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

void validate(const SearchOptions& o) {
  auto fail = [](const std::string& what) { throw InputError(what); };
  if (o.beam_size < 1) fail("beam_size: must be >= 1, got " + std::to_string(o.beam_size));
  if (!std::isfinite(o.alpha)) fail("alpha: must be a finite number, got " + fmt(o.alpha));
  if (!(o.alpha >= 0)) fail("alpha: must be >= 0, got " + fmt(o.alpha));
  if (!std::isfinite(o.max_length_a)) fail("max_length_a: must be a finite number, got " + fmt(o.max_length_a));
  if (!(o.max_length_a >= 0)) fail("max_length_a: must be >= 0, got " + fmt(o.max_length_a));
  if (o.max_length_b < 0) fail("max_length_b: must be >= 0, got " + std::to_string(o.max_length_b));
  if (o.min_length < 0) fail("min_length: must be >= 0, got " + std::to_string(o.min_length));
  if (o.n_best < 1 || o.n_best > o.beam_size)
    fail("n_best: must be between 1 and beam_size (" + std::to_string(o.beam_size) + "), got " +
         std::to_string(o.n_best));
  if (o.sampling.top_k < 0) fail("sampling top_k: must be >= 0, got " + std::to_string(o.sampling.top_k));
  if (!std::isfinite(o.sampling.temperature))
    fail("sampling temperature: must be a finite number, got " + fmt(o.sampling.temperature));
  // Sampling multiplies by 1/T: a subnormal T would make it inf, and 0 * inf a NaN weight.
  if (!(o.sampling.temperature > 0) || !std::isfinite(1.0 / o.sampling.temperature))
    fail("sampling temperature: must be > 0 (and 1/T finite), got " + fmt(o.sampling.temperature));
  for (std::int32_t id : o.never_generate)
    if (id < 0) fail("never_generate: token ids must be >= 0, got " + std::to_string(id));
  if (o.mini_batch < 1) fail("mini_batch: must be >= 1, got " + std::to_string(o.mini_batch));
  if (o.max_batch_tokens < 0)
    fail("max_batch_tokens: must be >= 0, got " + std::to_string(o.max_batch_tokens));
}

SamplingOptions parse_sampling(const std::string& spec) {
  SamplingOptions s;
  s.enabled = true;
  auto bad = [&](const std::string& why) {
    return InputError("--sampling '" + spec + "': " + why +
                      " (expected topk:K, temperature:T or topk:K,temperature:T)");
  };
  std::set<std::string> seen;
  std::size_t begin = 0;
  while (begin <= spec.size()) {
    const std::size_t comma = std::min(spec.find(',', begin), spec.size());
    const std::string part = spec.substr(begin, comma - begin);
    const std::size_t colon = part.find(':');
    if (colon == std::string::npos) throw bad("'" + part + "' has no ':'");
    const std::string key = part.substr(0, colon), value = part.substr(colon + 1);
    if (!seen.insert(key).second) throw bad("'" + key + "' is given twice");
    std::size_t used = 0;
    try {
      if (key == "topk") {
        const long k = std::stol(value, &used);
        if (used != value.size() || k < 0 || k > (1L << 30)) throw bad("top-k must be an integer >= 0");
        s.top_k = static_cast<int>(k);
      } else if (key == "temperature") {
        const double t = std::stod(value, &used);
        if (used != value.size()) throw bad("'" + value + "' is not a number");
        if (!std::isfinite(t)) throw bad("temperature must be a finite number");
        if (!(t > 0) || !std::isfinite(1.0 / t)) throw bad("temperature must be > 0");
        s.temperature = t;
      } else {
        throw bad("unknown key '" + key + "'");
      }
    } catch (const std::out_of_range&) {  // stol/stod: beyond long / double (1e-400 too)
      throw bad("'" + value + "' is out of range");
    } catch (const std::logic_error&) {  // stol/stod: not a number
      throw bad("'" + value + "' is not a number");
    }
    begin = comma + 1;
  }
  return s;
}

double length_penalty(const SearchOptions& o, std::int64_t length) {
  if (o.alpha == 0) return 1.0;
  const double len = static_cast<double>(length);
  return o.normalize ? std::pow(len, o.alpha) : std::pow((5.0 + len) / 6.0, o.alpha);
}

Searcher::Searcher(const SearchOptions& options) : options_(options) { validate(options_); }

void Searcher::collect_row_candidates(std::int64_t rows, int per_row) {
  candidates_.resize(static_cast<std::size_t>(rows * per_row));
  const float* lp = log_probs_.data();
  const int V = vocab_;
  // "a before b" = higher log-probability, then lower token id: a total
  // order, so the selection never depends on thread count or heap layout.
  auto better = [](const Candidate& a, const Candidate& b) {
    return a.token_log_prob > b.token_log_prob ||
           (a.token_log_prob == b.token_log_prob && a.token < b.token);
  };
#pragma omp parallel for schedule(static) if (rows * V > kParallelRowWork)
  for (std::int64_t r = 0; r < rows; ++r) {
    Candidate* slot = candidates_.data() + r * per_row;
    const float* row = lp + r * V;
    // A heap of the best per_row so far, worst on top; tokens arrive in
    // increasing id, so an equal log-probability never displaces a kept one.
    int n = 0, v = 0;
    for (; v < V && n < per_row; ++v) {
      slot[n++] = {0.0, row[v], static_cast<std::int32_t>(r), v};
      std::push_heap(slot, slot + n, better);
    }
    auto offer = [&](int token) {
      if (row[token] > slot[0].token_log_prob) {
        std::pop_heap(slot, slot + n, better);
        slot[n - 1] = {0.0, row[token], static_cast<std::int32_t>(r), token};
        std::push_heap(slot, slot + n, better);
      }
    };
    // Once the heap is full almost no token beats its worst: test blocks of
    // 16 with one vectorised compare and skip those with no candidate.
    constexpr int kBlock = 16;
    for (; v + kBlock <= V; v += kBlock) {
      const float worst = slot[0].token_log_prob;
      int any = 0;
      for (int i = 0; i < kBlock; ++i) any |= row[v + i] > worst;
      if (any)
        for (int i = 0; i < kBlock; ++i) offer(v + i);
    }
    for (; v < V; ++v) offer(v);
    std::sort_heap(slot, slot + n, better);
  }
}

void Searcher::keep_row(std::int32_t row, std::int32_t token, double log_prob) {
  const std::size_t L = static_cast<std::size_t>(history_width_);
  const std::size_t at = next_history_.size();
  next_history_.resize(at + L);
  const std::int32_t* from = history_.data() + row * L;
  std::copy(from, from + L, next_history_.begin() + static_cast<std::ptrdiff_t>(at));
  next_rows_.push_back(row);
  next_tokens_.push_back(token);
  next_log_prob_.push_back(log_prob);
}

void Searcher::advance_routes(std::int64_t step) {
  const std::size_t W = static_cast<std::size_t>(route_width_);
  const std::size_t row_width = static_cast<std::size_t>(history_width_) * W;
  next_route_history_.resize(next_rows_.size() * row_width);
  for (std::size_t r = 0; r < next_rows_.size(); ++r) {
    const std::size_t from = static_cast<std::size_t>(next_rows_[r]);
    ExpertRoute* to = next_route_history_.data() + r * row_width;
    std::copy_n(route_history_.data() + from * row_width, static_cast<std::size_t>(step) * W, to);
    std::copy_n(step_routes_.data() + from * W, W, to + static_cast<std::size_t>(step) * W);
  }
  std::swap(route_history_, next_route_history_);
}

void Searcher::finish_row(SentenceState& s, std::int32_t row, std::int64_t step, float eos_log_prob) {
  Hypothesis h;
  const std::int32_t* tokens = history_.data() + static_cast<std::size_t>(row) * history_width_;
  h.tokens.assign(tokens, tokens + step);
  if (route_width_ > 0) {  // the steps so far, then this step's (the EOS position)
    const std::size_t W = static_cast<std::size_t>(route_width_);
    const ExpertRoute* past = route_history_.data() + static_cast<std::size_t>(row) * history_width_ * W;
    h.routes.reserve((static_cast<std::size_t>(step) + 1) * W);
    h.routes.assign(past, past + static_cast<std::size_t>(step) * W);
    const ExpertRoute* now = step_routes_.data() + static_cast<std::size_t>(row) * W;
    h.routes.insert(h.routes.end(), now, now + W);
  }
  h.log_prob = row_log_prob_[row] + eos_log_prob;
  h.score = h.log_prob / length_penalty(options_, step + 1);
  // Kept sorted best first; equal scores keep the order they finished in.
  auto at = std::upper_bound(s.finished.begin(), s.finished.end(), h.score,
                             [](double score, const Hypothesis& x) { return score > x.score; });
  s.finished.insert(at, std::move(h));
}

bool Searcher::can_stop_early(const SentenceState& s) const {
  const std::size_t n = static_cast<std::size_t>(options_.n_best);
  if (s.finished.size() < n) return false;
  double best_live = -INFINITY;
  for (std::size_t i = static_cast<std::size_t>(s.row_begin); i < next_log_prob_.size(); ++i)
    best_live = std::max(best_live, next_log_prob_[i]);
  // Log-probabilities only fall and lp only grows with length, so no live
  // row can end above best_live / lp(longest allowed hypothesis).
  const double bound = best_live / length_penalty(options_, s.max_length + 1);
  return s.finished[n - 1].score >= bound;
}

void Searcher::select_beam(SentenceState& s, std::int64_t step) {
  const int K = options_.beam_size;
  const int per_row = std::min(2 * K, vocab_);
  merged_.clear();
  for (std::int32_t r = s.row_begin; r < s.row_begin + s.row_count; ++r)
    for (int j = 0; j < per_row; ++j) {
      Candidate c = candidates_[static_cast<std::size_t>(r) * per_row + j];
      c.total = row_log_prob_[r] + c.token_log_prob;
      merged_.push_back(c);
    }
  const std::size_t take = std::min<std::size_t>(merged_.size(), 2 * static_cast<std::size_t>(K));
  std::partial_sort(merged_.begin(), merged_.begin() + static_cast<std::ptrdiff_t>(take), merged_.end(),
                    [](const Candidate& a, const Candidate& b) {
                      if (a.total != b.total) return a.total > b.total;
                      return a.row != b.row ? a.row < b.row : a.token < b.token;
                    });
  const std::size_t first_next = next_rows_.size();
  int kept = 0;
  for (std::size_t i = 0; i < take && kept < K; ++i) {
    const Candidate& c = merged_[i];
    if (c.token == eos_) {
      if (i < static_cast<std::size_t>(K)) finish_row(s, c.row, step, c.token_log_prob);
      continue;
    }
    keep_row(c.row, c.token, c.total);
    ++kept;
  }
  s.row_begin = static_cast<std::int32_t>(first_next);
  s.row_count = kept;
  if (kept == 0 || s.finished.size() >= static_cast<std::size_t>(K) || can_stop_early(s)) {
    s.done = true;
  }
}

void Searcher::select_samples(SentenceState& s, std::int64_t step, Rng& rng) {
  const int K = options_.beam_size;
  const int top_k = options_.sampling.top_k;
  const double inv_t = 1.0 / options_.sampling.temperature;
  const std::size_t first_next = next_rows_.size();
  // The first step has one row per sentence; it seeds all K samples.
  const int draws_per_row = step == 0 ? K : 1;
  for (std::int32_t r = s.row_begin; r < s.row_begin + s.row_count; ++r) {
    const float* row = log_probs_.data() + static_cast<std::int64_t>(r) * vocab_;
    for (int d = 0; d < draws_per_row; ++d) {
      std::int32_t token = 0;
      if (top_k > 0) {
        const int k = std::min(top_k, vocab_);
        const Candidate* best = candidates_.data() + static_cast<std::size_t>(r) * k;
        double sum = 0;
        for (int j = 0; j < k; ++j)
          sum += weights_[j] = static_cast<float>(std::exp((best[j].token_log_prob - best[0].token_log_prob) * inv_t));
        double u = rng.uniform_double() * sum;
        int j = 0;
        while (j + 1 < k && (u -= weights_[j]) >= 0) ++j;
        // Rounding can run u past the end; the last tokens may have weight 0
        // (never_generate): never settle on one of those.
        while (j > 0 && weights_[j] == 0) --j;
        token = best[j].token;
      } else {
        const float top = *std::max_element(row, row + vocab_);
        double sum = 0;
        for (int v = 0; v < vocab_; ++v)
          sum += weights_[v] = static_cast<float>(std::exp((row[v] - top) * inv_t));
        double u = rng.uniform_double() * sum;
        int v = 0;
        while (v + 1 < vocab_ && (u -= weights_[v]) >= 0) ++v;
        while (v > 0 && weights_[v] == 0) --v;  // as above
        token = v;
      }
      if (token == eos_)
        finish_row(s, r, step, row[eos_]);
      else
        keep_row(r, token, row_log_prob_[r] + row[token]);
    }
  }
  s.row_begin = static_cast<std::int32_t>(first_next);
  s.row_count = static_cast<std::int32_t>(next_rows_.size() - first_next);
  if (s.row_count == 0) s.done = true;
}

std::vector<std::vector<Hypothesis>> Searcher::run(StepModel& model,
                                                   std::span<const std::span<const std::int32_t>> sources,
                                                   std::span<const std::uint64_t> stream_ids) {
  const std::int64_t B = static_cast<std::int64_t>(sources.size());
  std::vector<std::vector<Hypothesis>> results(static_cast<std::size_t>(B));
  if (B == 0) return results;
  const bool sampling = options_.sampling.enabled;
  MOE_CHECK(!sampling || stream_ids.size() == sources.size(), "one sampling stream per source");
  vocab_ = model.vocab_size();
  eos_ = model.eos_id();
  MOE_CHECK(vocab_ > 0 && eos_ >= 0 && eos_ < vocab_, "model vocabulary / eos id");
  // More rows than tokens cannot hold distinct hypotheses, and rows cost
  // B x K x V floats each step (-b 20000 on 8000 pieces: 13.6 GB).
  if (options_.beam_size > vocab_)
    throw InputError("beam_size: must be at most the vocabulary size (" + std::to_string(vocab_) + "), got " +
                     std::to_string(options_.beam_size));
  for (std::int32_t id : options_.never_generate)
    MOE_CHECK(id < vocab_ && id != eos_,
              "never_generate: id " + std::to_string(id) + " is EOS or outside the vocabulary");

  std::vector<SentenceState> sentences(static_cast<std::size_t>(B));
  std::vector<Rng> rngs;
  std::int64_t longest = 0;
  for (std::int64_t i = 0; i < B; ++i) {
    if (sources[i].empty()) throw InputError("source " + std::to_string(i) + " is empty (it needs at least EOS)");
    SentenceState& s = sentences[i];
    // Capped in double before the cast: a * S + b may be far beyond int64
    // (--max-length-a 1e30), and that cast would be undefined.
    const std::int64_t model_limit = std::max<std::int64_t>(model.max_target_length(), 0);
    const double limit =
        std::min(options_.max_length_a * static_cast<double>(sources[i].size()) + options_.max_length_b,
                 static_cast<double>(model_limit));
    // At least one token, unless the model has no room for any (then EOS at once).
    s.max_length = std::min<std::int64_t>(std::max<std::int64_t>(static_cast<std::int64_t>(limit), 1), model_limit);
    s.row_begin = static_cast<std::int32_t>(i);
    s.row_count = 1;
    longest = std::max(longest, s.max_length);
    if (sampling) rngs.emplace_back(options_.seed, "decode.sampling", stream_ids[i]);
  }
  history_width_ = longest + 1;
  const int K = options_.beam_size;
  const std::size_t max_rows = static_cast<std::size_t>(B * K);
  history_.assign(max_rows * history_width_, 0);
  next_history_.reserve(max_rows * history_width_);
  row_log_prob_.assign(static_cast<std::size_t>(B), 0.0);
  tokens_.assign(static_cast<std::size_t>(B), model.bos_id());
  next_rows_.reserve(max_rows);
  next_tokens_.reserve(max_rows);
  next_log_prob_.reserve(max_rows);
  weights_.resize(static_cast<std::size_t>(vocab_));
  route_width_ = options_.report_routing ? std::max(model.route_width(), 0) : 0;
  if (route_width_ > 0) {
    route_history_.assign(max_rows * history_width_ * route_width_, ExpertRoute{});
    next_route_history_.reserve(route_history_.size());
  }

  model.start(sources);
  std::int64_t rows = B;
  for (std::int64_t step = 0; rows > 0; ++step) {
    log_probs_.resize(Shape{rows, vocab_});
    model.step(std::span<const std::int32_t>(tokens_.data(), static_cast<std::size_t>(rows)), log_probs_.view());
    if (route_width_ > 0) {
      step_routes_.resize(static_cast<std::size_t>(rows * route_width_));
      model.step_routes(step_routes_);
    }
    constexpr float kNever = -std::numeric_limits<float>::infinity();
    for (std::int32_t id : options_.never_generate)
      for (std::int64_t r = 0; r < rows; ++r) log_probs_.data()[r * vocab_ + id] = kNever;
    if (step < options_.min_length) {
      // Too short to end: EOS is out of the running, except where the length
      // limit forces every row to end at this step.
      for (std::int64_t i = 0; i < B; ++i) {
        const SentenceState& s = sentences[i];
        if (s.done || step >= s.max_length) continue;
        for (std::int32_t r = s.row_begin; r < s.row_begin + s.row_count; ++r)
          log_probs_.data()[static_cast<std::int64_t>(r) * vocab_ + eos_] = kNever;
      }
    }
    const int per_row = sampling ? std::min(options_.sampling.top_k, vocab_) : std::min(2 * K, vocab_);
    if (per_row > 0) collect_row_candidates(rows, per_row);
    next_rows_.clear();
    next_tokens_.clear();
    next_log_prob_.clear();
    next_history_.clear();
    for (std::int64_t i = 0; i < B; ++i) {
      SentenceState& s = sentences[i];
      if (s.done) continue;
      if (step >= s.max_length) {  // every live row must end here
        for (std::int32_t r = s.row_begin; r < s.row_begin + s.row_count; ++r)
          finish_row(s, r, step, log_probs_.data()[static_cast<std::int64_t>(r) * vocab_ + eos_]);
        s.done = true;
        continue;
      }
      if (sampling)
        select_samples(s, step, rngs[i]);
      else
        select_beam(s, step);
      if (s.done) {  // its rows leave the batch
        next_rows_.resize(static_cast<std::size_t>(s.row_begin));
        next_tokens_.resize(static_cast<std::size_t>(s.row_begin));
        next_log_prob_.resize(static_cast<std::size_t>(s.row_begin));
        next_history_.resize(static_cast<std::size_t>(s.row_begin) * history_width_);
      }
    }
    // The new rows' histories gain the token chosen at this step.
    const std::int64_t next = static_cast<std::int64_t>(next_rows_.size());
    for (std::int64_t r = 0; r < next; ++r) next_history_[r * history_width_ + step] = next_tokens_[r];
    if (route_width_ > 0) advance_routes(step);
    bool identity = next == rows;
    for (std::int64_t r = 0; identity && r < next; ++r) identity = next_rows_[r] == r;
    if (!identity && next > 0) model.reorder(next_rows_);
    rows = next;
    std::swap(history_, next_history_);
    history_.resize(max_rows * history_width_);
    tokens_.assign(next_tokens_.begin(), next_tokens_.end());
    row_log_prob_.assign(next_log_prob_.begin(), next_log_prob_.end());
  }
  for (std::int64_t i = 0; i < B; ++i) {
    std::vector<Hypothesis>& f = sentences[i].finished;
    if (f.size() > static_cast<std::size_t>(options_.n_best)) f.resize(static_cast<std::size_t>(options_.n_best));
    results[i] = std::move(f);
  }
  return results;
}

}  // namespace moe::decode
