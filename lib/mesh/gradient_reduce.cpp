#include "mesh/gradient_reduce.h"

#include <algorithm>
#include <vector>

#include "util/error.h"

namespace moe {
namespace {

struct Span {
  std::size_t offset;
  std::size_t count;
};

void check_ranges(std::size_t buffer_size, std::span<const GroupedGradientRange> ranges) {
  std::vector<Span> sorted;
  for (const auto& r : ranges) {
    MOE_CHECK(r.group != nullptr, "gradient range without a group");
    MOE_CHECK(r.offset <= buffer_size && r.count <= buffer_size - r.offset,
              "gradient range [" + std::to_string(r.offset) + ", +" + std::to_string(r.count) +
                  ") outside the buffer of " + std::to_string(buffer_size));
    if (r.count > 0) sorted.push_back({r.offset, r.count});
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const Span& a, const Span& b) { return a.offset < b.offset; });
  for (std::size_t i = 1; i < sorted.size(); ++i)
    MOE_CHECK(sorted[i - 1].offset + sorted[i - 1].count <= sorted[i].offset,
              "gradient ranges overlap at offset " + std::to_string(sorted[i].offset));
}

// One all-reduce: spans of the flat buffer summed over `group` together.
struct Bucket {
  Collectives* group = nullptr;
  std::vector<Span> spans;           // in the order ranges joined
  std::vector<std::size_t> members;  // range indices, each once
  std::size_t floats = 0;
  bool in_place = false;             // spans touch end to end: reduce grads directly
  std::vector<float> staging;        // [floats] otherwise
  std::size_t waiting_for = 0;       // members not yet ready this step
  bool started = false;
  std::unique_ptr<PendingCollective> in_flight;  // null until started this step

  void add(std::size_t range, const Span& s) {
    if (members.empty() || members.back() != range) members.push_back(range);
    spans.push_back(s);
    floats += s.count;
  }
};

}  // namespace

struct GradientSync::Plan {
  std::span<float> grads;
  std::vector<GroupedGradientRange> ranges;
  float scale = 1.0f;
  std::vector<Bucket> buckets;  // in start order
  std::vector<std::vector<std::size_t>> buckets_of_range;
  std::vector<bool> ready;
  std::size_t next_to_start = 0;

  void build(std::size_t bucket_floats) {
    std::vector<std::pair<Collectives*, Bucket>> open;  // per group, first-appearance order
    auto close = [&](Bucket& b) {
      if (b.floats > 0) buckets.push_back(std::move(b));
      b = Bucket{};
    };
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      const GroupedGradientRange& r = ranges[i];
      if (r.count == 0 || r.group->size() == 1) continue;  // nothing to communicate
      if (r.count >= bucket_floats) {
        for (std::size_t done = 0; done < r.count; done += bucket_floats) {
          Bucket chunk;
          chunk.group = r.group;
          chunk.add(i, {r.offset + done, std::min(bucket_floats, r.count - done)});
          buckets.push_back(std::move(chunk));
        }
        continue;
      }
      auto it = std::find_if(open.begin(), open.end(),
                             [&](const auto& entry) { return entry.first == r.group; });
      if (it == open.end()) it = open.insert(open.end(), {r.group, Bucket{}});
      if (it->second.floats + r.count > bucket_floats) close(it->second);
      it->second.group = r.group;
      it->second.add(i, {r.offset, r.count});
    }
    for (auto& entry : open) close(entry.second);

    buckets_of_range.assign(ranges.size(), {});
    for (std::size_t b = 0; b < buckets.size(); ++b) {
      Bucket& bucket = buckets[b];
      bucket.in_place = true;
      for (std::size_t k = 1; k < bucket.spans.size(); ++k)
        if (bucket.spans[k - 1].offset + bucket.spans[k - 1].count != bucket.spans[k].offset)
          bucket.in_place = false;
      if (!bucket.in_place) bucket.staging.resize(bucket.floats);
      for (std::size_t range : bucket.members) buckets_of_range[range].push_back(b);
    }
    reset();
  }

  void reset() {
    ready.assign(ranges.size(), false);
    for (Bucket& b : buckets) {
      b.waiting_for = b.members.size();
      b.started = false;
    }
    next_to_start = 0;
  }

  void start(Bucket& b) {
    float* data = grads.data() + b.spans.front().offset;
    if (!b.in_place) {
      std::size_t at = 0;
      for (const Span& s : b.spans) {
        std::copy_n(grads.data() + s.offset, s.count, b.staging.data() + at);
        at += s.count;
      }
      data = b.staging.data();
    }
    b.in_flight = b.group->start_all_reduce_sum(data, b.floats);
    b.started = true;
  }

  // Starts buckets in plan order while the next one is complete.
  void start_ready_buckets() {
    while (next_to_start < buckets.size() && buckets[next_to_start].waiting_for == 0)
      start(buckets[next_to_start++]);
    // Without an MPI progress thread, transfers advance only inside MPI calls.
    for (std::size_t b = 0; b < next_to_start; ++b)
      if (buckets[b].in_flight && buckets[b].in_flight->done()) buckets[b].in_flight.reset();
  }

  void complete(Bucket& b) {
    if (b.in_flight) b.in_flight->wait();
    b.in_flight.reset();
    if (b.in_place) return;
    std::size_t at = 0;
    for (const Span& s : b.spans) {
      std::copy_n(b.staging.data() + at, s.count, grads.data() + s.offset);
      at += s.count;
    }
  }
};

GradientSync::GradientSync(std::span<float> grads, std::span<const GroupedGradientRange> ranges,
                           std::size_t bucket_floats, float scale)
    : plan_(std::make_unique<Plan>()) {
  MOE_CHECK(bucket_floats > 0, "bucket size must be positive");
  check_ranges(grads.size(), ranges);
  plan_->grads = grads;
  plan_->ranges.assign(ranges.begin(), ranges.end());
  plan_->scale = scale;
  plan_->build(bucket_floats);
}

namespace {

std::vector<GroupedGradientRange> resolve_groups(Mesh& mesh,
                                                 std::span<const GradientRange> ranges) {
  std::vector<GroupedGradientRange> grouped;
  grouped.reserve(ranges.size());
  for (const auto& r : ranges) {
    Collectives* group =
        r.sharded_along.empty() ? &mesh.world() : &mesh.all_axes_but(r.sharded_along);
    grouped.push_back({r.offset, r.count, group});
  }
  return grouped;
}

}  // namespace

GradientSync::GradientSync(Mesh& mesh, std::span<float> grads,
                           std::span<const GradientRange> ranges,
                           const GradientReduceOptions& options)
    : GradientSync(grads, resolve_groups(mesh, ranges),
                   std::max<std::size_t>(1, options.bucket_bytes / sizeof(float)),
                   options.scaling == GradientScaling::kMeanOverWorld
                       ? 1.0f / static_cast<float>(mesh.size())
                       : 1.0f) {}

GradientSync::~GradientSync() = default;

void GradientSync::mark_ready(std::size_t index) {
  Plan& p = *plan_;
  MOE_CHECK(index < p.ranges.size(), "gradient range " + std::to_string(index) + " of " +
                                         std::to_string(p.ranges.size()));
  MOE_CHECK(!p.ready[index],
            "gradient range " + std::to_string(index) + " marked ready twice in one step");
  p.ready[index] = true;
  for (std::size_t b : p.buckets_of_range[index]) --p.buckets[b].waiting_for;
  p.start_ready_buckets();
}

void GradientSync::finish() {
  Plan& p = *plan_;
  for (std::size_t i = 0; i < p.ranges.size(); ++i)
    if (!p.ready[i]) mark_ready(i);
  for (Bucket& b : p.buckets) p.complete(b);
  if (p.scale != 1.0f)
    for (const auto& r : p.ranges)
      for (float& g : p.grads.subspan(r.offset, r.count)) g *= p.scale;
  p.reset();
}

std::size_t GradientSync::num_buckets() const { return plan_->buckets.size(); }

void all_reduce_gradients(Mesh& mesh, std::span<float> grads,
                          std::span<const GradientRange> ranges,
                          const GradientReduceOptions& options) {
  GradientSync sync(mesh, grads, ranges, options);
  sync.finish();
}

}  // namespace moe
