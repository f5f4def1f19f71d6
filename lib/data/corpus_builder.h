#pragma once
// The X->English corpus from Debian's translation catalogs (CORPUS.md):
// download the packages of a list with `apt-get download` into a cache,
// stream their .mo catalogs and debconf templates out with dpkg-deb, clean
// the pairs, deduplicate per language, split by the English side and write
// OUT/{train,dev,test}/<code>.tsv ("source<TAB>english") and OUT/stats.tsv.
//
// Restartable: each .deb's cleaned pairs are cached under
// CACHE/parsed/<deb file>.<size>.v<format>.tsv, written atomically, so a
// rerun (or a run after an interruption) redoes only what is missing.
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "data/corpus_split.h"
#include "data/text_clean.h"

namespace moe::data {

// Package names of a list file: one a line, '#' starts a comment. Throws
// FileError naming the file and line of a malformed name.
std::vector<std::string> read_package_list(const std::string& path);

struct CorpusBuildOptions {
  std::string package_list;  // path of the list (data/packages-core.txt)
  std::string cache_dir;     // CACHE/debs/*.deb, CACHE/parsed/*.tsv, CACHE/apt-get.log
  std::string out_dir;
  int threads = 2;           // extraction workers (dpkg-deb's decompression is the slow part)
  bool download = true;      // false: use only .debs already in the cache
  SplitOptions split;
};

struct LanguageStats {
  std::string code;
  std::size_t train = 0, dev = 0, test = 0;
  std::size_t duplicates = 0;  // exact (source, English) repeats removed
  std::size_t dropped = 0;     // pairs the cleaning rules removed
  std::size_t catalogs = 0;
};

struct CorpusBuildReport {
  std::size_t packages = 0;
  std::size_t downloaded = 0, download_failed = 0;
  std::size_t extracted = 0, from_cache = 0, extract_failed = 0;
  std::size_t deb_bytes = 0;
  std::size_t catalogs_used = 0, catalogs_skipped = 0, corrupt_catalogs = 0;
  std::map<DropReason, std::size_t> drops;  // over all languages
  std::vector<std::string> unknown_locales;
  double download_seconds = 0, extract_seconds = 0, split_seconds = 0, total_seconds = 0;
  std::vector<LanguageStats> languages;  // most training pairs first
};

// Receives one progress message at a time ("extract 12/47 krita-l10n").
using ProgressCallback = std::function<void(const std::string&)>;

// The new corpus is written under OUT/.corpus-partial and moved into OUT only
// when complete: on any failure OUT keeps its earlier corpus untouched. Throws
// FileError for an OUT or CACHE that cannot be created, and naming the
// package list when no package gave a single pair (all missing, say).
CorpusBuildReport build_corpus(const CorpusBuildOptions& options, const ProgressCallback& progress);

// OUT/stats.tsv: a header line, then one line per language.
void write_stats_tsv(const std::string& path, const CorpusBuildReport& report);
// The human-readable table printed by `moe-tokenize corpus --stats`.
std::string format_stats_table(const CorpusBuildReport& report);

}  // namespace moe::data
