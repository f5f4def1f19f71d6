#pragma once
// The training report: one self-contained HTML file (inline SVG and CSS, no
// JavaScript, no network) rendered from a run's metrics.jsonl, for a person
// to open in a browser.
//
// metrics.jsonl holds one JSON object per line; the report reads
//   {"type":"train","step":S,"loss":..,"nll":..,"aux":..,"lr":..,"tokens_per_s":..,
//    "expert_load":[[f_0..f_E-1] per MoE layer],"dropped":[fraction per MoE layer],
//    "moe_layers":["encoder.1", ...]}
//   {"type":"dev","step":S,"loss":..,"bleu":..,"chrf":..,
//    "per_lang":{"de":{"bleu":..,"chrf":..,"sentences":..}, ...}}
// Unknown fields are ignored; missing ones leave their chart out.
#include <string>
#include <vector>

namespace moe::train {

// Renders the report for the records in `metrics_jsonl_text`. Malformed lines
// are skipped (a run killed mid-write may leave half a line).
std::string render_report(const std::string& metrics_jsonl_text, const std::string& title);

// Reads RUN_DIR/metrics.jsonl and writes RUN_DIR/report.html atomically.
void write_report(const std::string& run_dir, const std::string& title);

}  // namespace moe::train
