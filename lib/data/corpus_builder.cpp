#include "data/corpus_builder.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "data/catalog_pairs.h"
#include "data/deb_archive.h"
#include "data/mo_catalog.h"
#include "data/process.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/log.h"
#include "util/utf8.h"

namespace moe::data {
namespace fs = std::filesystem;

namespace {

// Bump when cleaning rules change: cached parses of older rules are ignored.
constexpr int kParsedFormatVersion = 4;
constexpr std::size_t kDownloadBatch = 8;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool valid_package_name(const std::string& name) {
  if (name.size() < 2 || !(std::islower(static_cast<unsigned char>(name[0])) || std::isdigit(static_cast<unsigned char>(name[0]))))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '+' ||
           c == '-' || c == '.';
  });
}

// Package name -> cached .deb ("name_version_arch.deb"; '_' never occurs in names).
std::map<std::string, fs::path> cached_debs(const fs::path& deb_dir) {
  std::map<std::string, fs::path> found;
  for (const auto& entry : fs::directory_iterator(deb_dir)) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || file.size() < 5 || file.compare(file.size() - 4, 4, ".deb") != 0) continue;
    const std::string name = file.substr(0, file.find('_'));
    auto [it, inserted] = found.emplace(name, entry.path());
    if (!inserted && it->second.filename().string() < file) it->second = entry.path();  // newest version wins
  }
  return found;
}

// The last "E: ..." line apt-get wrote to its log, for the failure report.
std::string last_apt_error(const fs::path& log_path) {
  std::ifstream in(log_path);
  std::string line, last;
  while (std::getline(in, line))
    if (line.rfind("E: ", 0) == 0) last = line.substr(3);
  return last.empty() ? "apt-get download failed" : last;
}

// Downloads into a private partial directory and moves complete .debs into
// place, so an interrupted run never leaves a truncated .deb in the cache.
bool apt_download(const std::vector<std::string>& packages, const fs::path& deb_dir, const fs::path& log_path) {
  const fs::path partial = deb_dir / ".partial";
  fs::remove_all(partial);
  fs::create_directories(partial);
  std::vector<std::string> argv = {"apt-get", "download", "-q"};
  argv.insert(argv.end(), packages.begin(), packages.end());
  const int status = run_process(argv, partial.string(), log_path.string());
  for (const auto& entry : fs::directory_iterator(partial))
    if (status == 0 && entry.path().extension() == ".deb") fs::rename(entry.path(), deb_dir / entry.path().filename());
  fs::remove_all(partial);
  return status == 0;
}

struct ParsedDeb {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> pairs;  // by code
  std::map<std::string, std::map<DropReason, std::size_t>> drops;
  std::map<std::string, std::size_t> catalogs;
  std::size_t skipped_catalogs = 0, corrupt_catalogs = 0;
  std::set<std::string> unknown_locales;
};

bool wanted_member(const std::string& path) {
  return path.size() > 3 && path.compare(path.size() - 3, 3, ".mo") == 0 && path.find("/LC_MESSAGES/") != std::string::npos;
}

void add_catalog(ParsedDeb& parsed, CatalogPairs&& catalog) {
  if (!catalog.skipped.empty()) {
    ++parsed.skipped_catalogs;
    return;
  }
  ++parsed.catalogs[catalog.code];
  auto& drops = parsed.drops[catalog.code];
  for (const auto& [reason, count] : catalog.drops) drops[reason] += count;
  auto& into = parsed.pairs[catalog.code];
  for (auto& pair : catalog.pairs) into.push_back(std::move(pair));
}

ParsedDeb parse_deb(const fs::path& deb, const std::string& package) {
  ParsedDeb parsed;
  const bool libreoffice = package.rfind("libreoffice", 0) == 0;
  for_each_deb_file(deb.string(), DebPart::kData, wanted_member, [&](const std::string& path, std::string&& bytes) {
    const std::string origin = deb.filename().string() + ":" + path;
    const fs::path p(path);
    const std::string locale = p.parent_path().parent_path().filename().string();
    const std::string domain = p.stem().string();
    const LocaleCode code = parse_locale(locale);
    if (code.status == LocaleCode::Status::kUnknown) parsed.unknown_locales.insert(locale);
    if (code.status == LocaleCode::Status::kDropped) {
      ++parsed.skipped_catalogs;
      return;
    }
    MoCatalog catalog;
    try {
      catalog = parse_mo(bytes, origin);
    } catch (const FileError& e) {
      log::warn(utf8::printable(e.what()) + " (corrupt catalog skipped)");
      ++parsed.corrupt_catalogs;
      return;
    }
    add_catalog(parsed, catalog_pairs(catalog, locale, domain, libreoffice));
  });
  for_each_deb_file(deb.string(), DebPart::kControl, [](const std::string& path) { return path == "./templates"; },
                    [&](const std::string& path, std::string&& bytes) {
                      for (auto& catalog : debconf_template_pairs(bytes, deb.filename().string() + ":" + path))
                        add_catalog(parsed, std::move(catalog));
                    });
  return parsed;
}

// Cache file lines: "P code source english", "D code reason count",
// "C code catalogs", "S skipped corrupt", "U locale" (tab-separated).
void write_parsed(const ParsedDeb& parsed, const fs::path& path) {
  const fs::path temp = path.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary);
    if (!out) throw FileError(temp.string(), 0, "cannot write");
    out << "S\t" << parsed.skipped_catalogs << '\t' << parsed.corrupt_catalogs << '\n';
    for (const auto& locale : parsed.unknown_locales) out << "U\t" << locale << '\n';
    for (const auto& [code, count] : parsed.catalogs) out << "C\t" << code << '\t' << count << '\n';
    for (const auto& [code, drops] : parsed.drops)
      for (const auto& [reason, count] : drops)
        out << "D\t" << code << '\t' << static_cast<int>(reason) << '\t' << count << '\n';
    for (const auto& [code, pairs] : parsed.pairs)
      for (const auto& [source, english] : pairs) out << "P\t" << code << '\t' << source << '\t' << english << '\n';
    if (!out.flush()) throw FileError(temp.string(), 0, "write failed");
  }
  fs::rename(temp, path);
}

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (tab == std::string_view::npos) return fields;
    start = tab + 1;
  }
}

struct LanguageAccumulator {
  std::vector<std::pair<std::string, std::string>> pairs;
  // Hashes of "source\tenglish" seen so far: 64 bits make a false duplicate
  // among a few million pairs a one-in-a-million event, at a fraction of the
  // memory and time of keeping the strings.
  std::unordered_set<std::uint64_t> seen;
  LanguageStats stats;
};

void merge_parsed_file(const fs::path& path, std::map<std::string, LanguageAccumulator>& languages,
                       CorpusBuildReport& report, std::set<std::string>& unknown_locales) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path.string(), 0, "cannot read cached parse");
  std::string line;
  long line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const std::vector<std::string_view> f = split_tabs(line);
    const auto bad = [&] { return FileError(path.string(), line_number, "malformed cache line (delete the file)"); };
    const auto count_of = [&](std::string_view field) {
      std::size_t count = 0;
      const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), count);
      if (error != std::errc() || end != field.data() + field.size()) throw bad();
      return count;
    };
    if (f[0] == "P") {
      if (f.size() != 4) throw bad();
      LanguageAccumulator& lang = languages[std::string(f[1])];
      const std::uint64_t key = std::hash<std::string_view>{}(std::string_view(line).substr(2 + f[1].size() + 1));
      if (!lang.seen.insert(key).second) {
        ++lang.stats.duplicates;
        continue;
      }
      lang.pairs.emplace_back(std::string(f[2]), std::string(f[3]));
    } else if (f[0] == "D") {
      if (f.size() != 4) throw bad();
      const std::size_t count = count_of(f[3]);
      languages[std::string(f[1])].stats.dropped += count;
      const std::size_t reason = count_of(f[2]);
      if (reason > static_cast<std::size_t>(DropReason::kEmpty)) throw bad();
      report.drops[static_cast<DropReason>(reason)] += count;
    } else if (f[0] == "C") {
      if (f.size() != 3) throw bad();
      const std::size_t count = count_of(f[2]);
      languages[std::string(f[1])].stats.catalogs += count;
      report.catalogs_used += count;
    } else if (f[0] == "S") {
      if (f.size() != 3) throw bad();
      report.catalogs_skipped += count_of(f[1]);
      report.corrupt_catalogs += count_of(f[2]);
    } else if (f[0] == "U") {
      if (f.size() != 2) throw bad();
      unknown_locales.insert(std::string(f[1]));
    } else {
      throw bad();
    }
  }
  if (in.bad()) throw FileError(path.string(), 0, "read error in the cached parse");
}

void write_split_file(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& pairs) {
  const fs::path temp = path.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary);
    if (!out) throw FileError(temp.string(), 0, "cannot write");
    for (const auto& [source, english] : pairs) out << source << '\t' << english << '\n';
    if (!out.flush()) throw FileError(temp.string(), 0, "write failed");
  }
  fs::rename(temp, path);
}

void create_directory_or_throw(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw FileError(dir.string(), 0, "cannot create the directory: " + ec.message());
}

// The new corpus is written under OUT/.corpus-partial and moved into OUT only
// once it is complete, so a build that fails or is interrupted leaves the
// previous corpus in OUT as it was (and removes what it created itself).
class StagedCorpusDir {
 public:
  explicit StagedCorpusDir(const fs::path& out) : out_(out), staging_(out / ".corpus-partial") {
    std::error_code ec;
    const fs::file_status status = fs::status(out_, ec);
    if (fs::exists(status) && !fs::is_directory(status))
      throw FileError(out_.string(), 0, "the output path exists and is not a directory");
    for (fs::path missing = out_; !missing.empty() && !fs::exists(missing, ec); missing = missing.parent_path())
      outermost_created_ = missing;
    create_directory_or_throw(out_);
    for (Split split : {Split::kTrain, Split::kDev, Split::kTest}) {
      const fs::path dir = out_ / std::string(split_name(split));
      if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
        throw FileError(dir.string(), 0, "exists and is not a directory");
    }
    fs::remove_all(staging_, ec);  // left by an interrupted run
    for (Split split : {Split::kTrain, Split::kDev, Split::kTest})
      create_directory_or_throw(staging_ / std::string(split_name(split)));
  }
  StagedCorpusDir(const StagedCorpusDir&) = delete;
  StagedCorpusDir& operator=(const StagedCorpusDir&) = delete;
  ~StagedCorpusDir() {
    if (committed_) return;
    std::error_code ec;
    fs::remove_all(staging_, ec);
    if (outermost_created_.empty()) return;
    // fs::remove removes only empty directories: nothing else is touched.
    for (fs::path dir = out_; fs::remove(dir, ec) && dir != outermost_created_; dir = dir.parent_path()) {
    }
  }

  const fs::path& dir() const { return staging_; }

  // Moves the new files over the old ones (each rename is atomic), then
  // removes the languages of the earlier build that the new one lacks.
  void commit() {
    for (Split split : {Split::kTrain, Split::kDev, Split::kTest}) {
      const std::string name(split_name(split));
      const fs::path target = out_ / name;
      create_directory_or_throw(target);
      std::set<fs::path> fresh;
      for (const auto& entry : fs::directory_iterator(staging_ / name)) {
        fs::rename(entry.path(), target / entry.path().filename());
        fresh.insert(entry.path().filename());
      }
      std::vector<fs::path> stale;
      for (const auto& entry : fs::directory_iterator(target))
        if (entry.path().extension() == ".tsv" && !fresh.count(entry.path().filename())) stale.push_back(entry.path());
      for (const auto& path : stale) fs::remove(path);
    }
    fs::rename(staging_ / "stats.tsv", out_ / "stats.tsv");
    committed_ = true;
    std::error_code ec;
    fs::remove_all(staging_, ec);
  }

 private:
  fs::path out_, staging_;
  fs::path outermost_created_;  // the first directory of OUT's path this build created, if any
  bool committed_ = false;
};

}  // namespace

std::vector<std::string> read_package_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw FileError(path, 0, "cannot open package list");
  std::vector<std::string> packages;
  std::string line;
  long line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (const std::size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    const std::string name = collapse_spaces(line);
    if (name.empty()) continue;
    if (!valid_package_name(name)) throw FileError(path, line_number, "'" + name + "' is not a Debian package name");
    packages.push_back(name);
  }
  if (packages.empty()) throw FileError(path, 0, "no package names in the list");
  return packages;
}

CorpusBuildReport build_corpus(const CorpusBuildOptions& options, const ProgressCallback& progress) {
  const auto start = std::chrono::steady_clock::now();
  CorpusBuildReport report;
  const std::vector<std::string> packages = read_package_list(options.package_list);
  report.packages = packages.size();
  // Before the slow part, so that a bad OUT or CACHE fails at once.
  StagedCorpusDir staged(options.out_dir);
  const fs::path cache(options.cache_dir);
  const fs::path deb_dir = cache / "debs", parsed_dir = cache / "parsed";
  create_directory_or_throw(deb_dir);
  create_directory_or_throw(parsed_dir);

  // 1. Download what the cache lacks, a batch at a time; a failing batch is
  // retried package by package so that one bad name costs only itself.
  std::map<std::string, fs::path> debs = cached_debs(deb_dir);
  std::vector<std::string> missing;
  for (const auto& name : packages)
    if (!debs.count(name)) missing.push_back(name);
  std::set<std::string> failed;
  if (!missing.empty() && !options.download) {
    for (const auto& name : missing) log::warn("package " + name + ": not in the cache and downloads are off; skipped");
    failed.insert(missing.begin(), missing.end());
  } else if (!missing.empty()) {
    const fs::path log_path = cache / "apt-get.log";
    for (std::size_t i = 0; i < missing.size(); i += kDownloadBatch) {
      const std::vector<std::string> batch(missing.begin() + static_cast<long>(i),
                                           missing.begin() + static_cast<long>(std::min(missing.size(), i + kDownloadBatch)));
      progress("download " + std::to_string(std::min(missing.size(), i + kDownloadBatch)) + "/" +
               std::to_string(missing.size()) + " " + batch.front());
      if (apt_download(batch, deb_dir, log_path)) continue;
      for (const auto& name : batch) {
        if (apt_download({name}, deb_dir, log_path)) continue;
        log::warn("package " + name + ": " + last_apt_error(log_path) + " (see " + log_path.string() + "); skipped");
        failed.insert(name);
      }
    }
    debs = cached_debs(deb_dir);
    for (const auto& name : missing) {
      if (failed.count(name)) continue;
      if (debs.count(name)) {
        ++report.downloaded;
      } else {
        log::warn("package " + name + ": apt-get reported success but left no .deb; skipped");
        failed.insert(name);
      }
    }
  }
  report.download_failed = failed.size();
  report.download_seconds = seconds_since(start);

  // 2. Parse every .deb whose cached parse is missing, on `threads` workers.
  struct Job {
    std::string package;
    fs::path deb, parsed;
  };
  std::vector<Job> jobs;
  for (const auto& name : packages) {
    if (failed.count(name) || !debs.count(name)) continue;
    const fs::path& deb = debs.at(name);
    const std::size_t size = fs::file_size(deb);
    report.deb_bytes += size;
    jobs.push_back({name, deb,
                    parsed_dir / (deb.filename().string() + "." + std::to_string(size) + ".v" +
                                  std::to_string(kParsedFormatVersion) + ".tsv")});
  }
  const auto extract_start = std::chrono::steady_clock::now();
  std::vector<const Job*> to_parse;
  for (const auto& job : jobs)
    if (!fs::exists(job.parsed)) to_parse.push_back(&job);
  report.from_cache = jobs.size() - to_parse.size();
  std::atomic<std::size_t> next{0}, done{0};
  std::mutex mutex;
  std::set<std::string> extract_failed;
  auto worker = [&] {
    for (std::size_t i = next++; i < to_parse.size(); i = next++) {
      const Job& job = *to_parse[i];
      try {
        write_parsed(parse_deb(job.deb, job.package), job.parsed);
      } catch (const std::exception& e) {
        log::warn(utf8::printable(e.what()) + "; package " + job.package + " skipped");
        std::lock_guard<std::mutex> lock(mutex);
        extract_failed.insert(job.package);
      }
      const std::size_t finished = ++done;
      std::lock_guard<std::mutex> lock(mutex);
      progress("extract " + std::to_string(finished) + "/" + std::to_string(to_parse.size()) + " " + job.package);
    }
  };
  std::vector<std::thread> workers;
  const int threads = std::max(1, std::min<int>(options.threads, static_cast<int>(to_parse.size())));
  for (int t = 0; t < threads; ++t) workers.emplace_back(worker);
  for (auto& w : workers) w.join();
  report.extracted = to_parse.size() - extract_failed.size();
  report.extract_failed = extract_failed.size();
  report.extract_seconds = seconds_since(extract_start);

  // 3. Merge in list order (so the output does not depend on thread timing),
  // deduplicate per language, split and write.
  const auto split_start = std::chrono::steady_clock::now();
  progress("merge " + std::to_string(jobs.size()) + " packages");
  std::map<std::string, LanguageAccumulator> languages;
  std::set<std::string> unknown_locales;
  for (const auto& job : jobs)
    if (!extract_failed.count(job.package)) merge_parsed_file(job.parsed, languages, report, unknown_locales);
  for (const auto& locale : unknown_locales) log::info("locale '" + locale + "' is not in the language table; kept as is");
  report.unknown_locales.assign(unknown_locales.begin(), unknown_locales.end());

  const fs::path& out = staged.dir();
  std::vector<LanguageAccumulator*> ordered;
  for (auto& [code, lang] : languages) {
    lang.stats.code = code;
    ordered.push_back(&lang);
  }
  // Each English string recurs in up to ~200 languages: hash it once.
  // (Keys are copies: split_pairs moves the pairs' strings while others read the map.)
  std::unordered_map<std::string, Sha256Digest> digests;
  for (const auto* lang : ordered)
    for (const auto& pair : lang->pairs)
      if (!digests.count(pair.second)) digests.emplace(pair.second, english_digest(pair.second));
  const EnglishDigestFn cached_digest = [&](const std::string& english) { return digests.at(english); };
  std::atomic<std::size_t> next_language{0};
  auto split_language = [&](LanguageAccumulator& lang) {
    lang.seen.clear();
    if (lang.pairs.empty()) return;
    {
      std::lock_guard<std::mutex> lock(mutex);
      progress("split " + lang.stats.code);
    }
    const LanguageSplits splits = split_pairs(std::move(lang.pairs), options.split, cached_digest);
    lang.stats.train = splits.train.size();
    lang.stats.dev = splits.dev.size();
    lang.stats.test = splits.test.size();
    const std::string file = lang.stats.code + ".tsv";
    write_split_file(out / "train" / file, splits.train);
    if (!splits.dev.empty()) write_split_file(out / "dev" / file, splits.dev);
    if (!splits.test.empty()) write_split_file(out / "test" / file, splits.test);
  };
  std::exception_ptr split_error;  // the first failure (a full disk), rethrown after the join
  auto split_worker = [&] {
    for (std::size_t i = next_language++; i < ordered.size(); i = next_language++) {
      try {
        split_language(*ordered[i]);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!split_error) split_error = std::current_exception();
      }
    }
  };
  workers.clear();
  for (int t = 0; t < std::max(1, options.threads); ++t) workers.emplace_back(split_worker);
  for (auto& w : workers) w.join();
  if (split_error) std::rethrow_exception(split_error);
  for (const auto* lang : ordered)
    if (lang->stats.train + lang->stats.dev + lang->stats.test > 0) report.languages.push_back(lang->stats);
  std::sort(report.languages.begin(), report.languages.end(), [](const LanguageStats& a, const LanguageStats& b) {
    return a.train != b.train ? a.train > b.train : a.code < b.code;
  });
  if (report.languages.empty())
    throw FileError(options.package_list, 0,
                    "no translation pairs from its " + std::to_string(packages.size()) + " package" +
                        (packages.size() == 1 ? "" : "s") + " (" + std::to_string(report.download_failed) +
                        " not downloaded or not in the cache, " + std::to_string(report.extract_failed) +
                        " failed to unpack); " + options.out_dir + " is unchanged");
  report.split_seconds = seconds_since(split_start);
  report.total_seconds = seconds_since(start);
  write_stats_tsv((out / "stats.tsv").string(), report);
  staged.commit();
  return report;
}

void write_stats_tsv(const std::string& path, const CorpusBuildReport& report) {
  write_file_atomically(path, [&](std::ostream& out) {
    out << "code\ttrain\tdev\ttest\tduplicates\tdropped\tcatalogs\n";
    for (const auto& l : report.languages)
      out << l.code << '\t' << l.train << '\t' << l.dev << '\t' << l.test << '\t' << l.duplicates << '\t'
          << l.dropped << '\t' << l.catalogs << '\n';
  });
}

std::string format_stats_table(const CorpusBuildReport& report) {
  std::ostringstream out;
  char line[160];
  std::snprintf(line, sizeof line, "%-10s %9s %6s %6s %9s %9s %8s\n", "code", "train", "dev", "test", "dupes",
                "dropped", "catalogs");
  out << line;
  std::size_t train = 0, dev = 0, test = 0, at_least_1000 = 0;
  for (const auto& l : report.languages) {
    std::snprintf(line, sizeof line, "%-10s %9zu %6zu %6zu %9zu %9zu %8zu\n", l.code.c_str(), l.train, l.dev, l.test,
                  l.duplicates, l.dropped, l.catalogs);
    out << line;
    train += l.train, dev += l.dev, test += l.test;
    if (l.train >= 1000) ++at_least_1000;
  }
  std::snprintf(line, sizeof line, "%-10s %9zu %6zu %6zu\n", "total", train, dev, test);
  out << line;
  out << report.languages.size() << " languages, " << at_least_1000 << " with >= 1000 training pairs; "
      << report.packages << " packages (" << report.downloaded << " downloaded, " << report.from_cache
      << " parses cached, " << report.extracted << " extracted, " << report.download_failed + report.extract_failed
      << " failed), " << report.deb_bytes / 1000000 << " MB of .deb; " << report.catalogs_used << " catalogs used, "
      << report.catalogs_skipped << " skipped, " << report.corrupt_catalogs << " corrupt\n";
  out << "dropped by rule:";
  for (const auto& [reason, count] : report.drops) out << ' ' << drop_reason_name(reason) << '=' << count;
  out << "\n";
  std::snprintf(line, sizeof line, "time: download %.1f s, extract %.1f s, split+write %.1f s, total %.1f s\n",
                report.download_seconds, report.extract_seconds, report.split_seconds, report.total_seconds);
  out << line;
  return out.str();
}

}  // namespace moe::data
