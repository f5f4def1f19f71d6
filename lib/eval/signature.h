#pragma once
// sacreBLEU-style metric signatures ("nrefs:1|case:mixed|...|version:X", METRICS.md §5.1).
#include <string>
#include <vector>

namespace moe::eval {

struct SignatureField {
  std::string key;        // long form, also the JSON field name
  std::string short_key;  // the -sh form
  std::string value;
};

struct Signature {
  std::vector<SignatureField> fields;  // in print order; `version` is last
  std::string format(bool short_form = false) const;
};

// Resampling settings that enter the signature after nrefs (METRICS.md §6).
struct ResamplingSignature {
  int bootstrap_resamples = 0;  // bs:N when > 0
  int ar_trials = 0;            // ar:N when > 0
  std::string seed;             // seed:S when either is set ("12345" or "none")
};

// nrefs, the resampling keys, the metric's own keys, then version (moe::kVersion).
Signature make_signature(int nrefs, const ResamplingSignature& resampling,
                         std::vector<SignatureField> metric_fields);

const char* yes_no(bool value);

}  // namespace moe::eval
