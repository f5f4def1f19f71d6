#include "eval/signature.h"

#include "util/version.h"

namespace moe::eval {

std::string Signature::format(bool short_form) const {
  std::string out;
  for (const SignatureField& field : fields) {
    if (!out.empty()) out += '|';
    out += short_form ? field.short_key : field.key;
    out += ':';
    out += field.value;
  }
  return out;
}

Signature make_signature(int nrefs, const ResamplingSignature& resampling,
                         std::vector<SignatureField> metric_fields) {
  Signature signature;
  signature.fields.push_back({"nrefs", "#", std::to_string(nrefs)});
  if (resampling.bootstrap_resamples > 0) {
    signature.fields.push_back({"bs", "bs", std::to_string(resampling.bootstrap_resamples)});
  }
  if (resampling.ar_trials > 0) {
    signature.fields.push_back({"ar", "ar", std::to_string(resampling.ar_trials)});
  }
  if (resampling.bootstrap_resamples > 0 || resampling.ar_trials > 0) {
    signature.fields.push_back({"seed", "rs", resampling.seed});
  }
  for (SignatureField& field : metric_fields) signature.fields.push_back(std::move(field));
  signature.fields.push_back({"version", "v", kVersion});
  return signature;
}

const char* yes_no(bool value) { return value ? "yes" : "no"; }

}  // namespace moe::eval
