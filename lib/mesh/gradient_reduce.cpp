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

// Spans of one group, by offset, with touching spans merged.
std::vector<Span> merged_spans(std::span<const GroupedGradientRange> ranges, Collectives* group) {
  std::vector<Span> spans;
  for (const auto& r : ranges)
    if (r.group == group && r.count > 0) spans.push_back({r.offset, r.count});
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.offset < b.offset; });
  std::vector<Span> merged;
  for (const Span& s : spans) {
    if (!merged.empty() && merged.back().offset + merged.back().count == s.offset)
      merged.back().count += s.count;
    else
      merged.push_back(s);
  }
  return merged;
}

// Collects small spans into one buffer so that they cost a single all-reduce.
class StagingBucket {
 public:
  StagingBucket(std::span<float> grads, Collectives& group, std::size_t capacity)
      : grads_(grads), group_(group), capacity_(capacity) {}

  bool fits(std::size_t count) const { return staged_ + count <= capacity_; }
  void add(const Span& s) {
    if (buffer_.size() < capacity_) buffer_.resize(capacity_);
    std::copy_n(grads_.data() + s.offset, s.count, buffer_.data() + staged_);
    spans_.push_back(s);
    staged_ += s.count;
  }
  void flush() {
    if (staged_ == 0) return;
    group_.all_reduce_sum(buffer_.data(), staged_);
    std::size_t at = 0;
    for (const Span& s : spans_) {
      std::copy_n(buffer_.data() + at, s.count, grads_.data() + s.offset);
      at += s.count;
    }
    spans_.clear();
    staged_ = 0;
  }

 private:
  std::span<float> grads_;
  Collectives& group_;
  std::size_t capacity_;
  std::vector<float> buffer_;
  std::vector<Span> spans_;
  std::size_t staged_ = 0;
};

void reduce_group(std::span<float> grads, const std::vector<Span>& spans, Collectives& group,
                  std::size_t bucket_floats) {
  StagingBucket staging(grads, group, bucket_floats);
  for (const Span& s : spans) {
    if (s.count >= bucket_floats) {
      // Already bucket-sized: reduce in place, no copies.
      for (std::size_t done = 0; done < s.count; done += bucket_floats)
        group.all_reduce_sum(grads.data() + s.offset + done,
                             std::min(bucket_floats, s.count - done));
      continue;
    }
    if (!staging.fits(s.count)) staging.flush();
    staging.add(s);
  }
  staging.flush();
}

}  // namespace

void reduce_gradient_buckets(std::span<float> grads, std::span<const GroupedGradientRange> ranges,
                             std::size_t bucket_floats, float scale) {
  MOE_CHECK(bucket_floats > 0, "bucket size must be positive");
  check_ranges(grads.size(), ranges);
  std::vector<Collectives*> groups;  // in order of first appearance, the same on every rank
  for (const auto& r : ranges)
    if (std::find(groups.begin(), groups.end(), r.group) == groups.end())
      groups.push_back(r.group);
  for (Collectives* group : groups) {
    const std::vector<Span> spans = merged_spans(ranges, group);
    if (group->size() > 1) reduce_group(grads, spans, *group, bucket_floats);
    if (scale != 1.0f)
      for (const Span& s : spans)
        for (float& g : grads.subspan(s.offset, s.count)) g *= scale;
  }
}

void all_reduce_gradients(Mesh& mesh, std::span<float> grads,
                          std::span<const GradientRange> ranges,
                          const GradientReduceOptions& options) {
  std::vector<GroupedGradientRange> grouped;
  grouped.reserve(ranges.size());
  for (const auto& r : ranges) {
    Collectives* group =
        r.sharded_along.empty() ? &mesh.world() : &mesh.all_axes_but(r.sharded_along);
    grouped.push_back({r.offset, r.count, group});
  }
  const std::size_t bucket_floats = std::max<std::size_t>(1, options.bucket_bytes / sizeof(float));
  const float scale = options.scaling == GradientScaling::kMeanOverWorld
                          ? 1.0f / static_cast<float>(mesh.size())
                          : 1.0f;
  reduce_gradient_buckets(grads, grouped, bucket_floats, scale);
}

}  // namespace moe
