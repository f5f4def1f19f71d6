#include "data/catalog_pairs.h"

#include <memory>
#include <optional>

#include "data/charset.h"
#include "data/plural_forms.h"
#include "util/error.h"
#include "util/log.h"
#include "util/utf8.h"

namespace moe::data {
namespace {

// msgids (or msgctxts) that carry translator names or layout settings, not text.
bool is_meta_entry(const MoEntry& entry) {
  static const std::vector<std::string> kIds = {
      "translator-credits", "translator_credits", "translator-credits\n", "Your names", "Your emails",
      "default:LTR", "default:RTL", "default:mm", "default:inch", "calendar:week_start:0",
      "calendar:MY", "calendar:YM", "ROLES_OF_TRANSLATORS", "CREDIT_FOR_TRANSLATORS"};
  for (const auto& id : kIds)
    if (entry.msgid == id) return true;
  return entry.context == "NAME OF TRANSLATORS" || entry.context == "EMAIL OF TRANSLATORS";
}

struct RawPair {
  std::string english, source;
};

// Decodes msgid bytes: nearly always ASCII/UTF-8 whatever the catalog charset.
std::optional<std::string> decode_english(const std::string& bytes, CharsetDecoder& decoder) {
  if (utf8::is_valid(bytes)) return bytes;
  return decoder.to_utf8(bytes);
}

// The first 400 translations without markup and placeholders ("<b>", "%(name)s"), whose
// Latin letters would count for Latin in resolve_code's script decision.
std::vector<std::string> script_samples(const std::vector<RawPair>& raw) {
  std::vector<std::string> samples;
  for (std::size_t i = 0; i < raw.size() && samples.size() < 400; ++i)
    samples.push_back(remove_placeholders(strip_markup(raw[i].source)));
  return samples;
}

CatalogPairs clean_all(const std::vector<RawPair>& raw, const std::string& code, bool libreoffice) {
  CatalogPairs out;
  out.code = code;
  std::vector<std::string> english_texts, source_texts;
  for (const auto& p : raw) {
    english_texts.push_back(p.english);
    source_texts.push_back(p.source);
  }
  AcceleratorMarks english_marks, source_marks;
  english_marks.ampersand = source_marks.ampersand = !libreoffice;
  english_marks.tilde = source_marks.tilde = libreoffice;
  english_marks.underscore = uses_underscore_accelerators(english_texts);
  source_marks.underscore = english_marks.underscore || uses_underscore_accelerators(source_texts);
  for (const auto& p : raw) {
    CleanedPairs cleaned = clean_pair(p.english, p.source, code, english_marks, source_marks, libreoffice);
    if (cleaned.pairs.empty()) {
      ++out.drops[cleaned.reason];
      continue;
    }
    for (auto& pair : cleaned.pairs) out.pairs.push_back(std::move(pair));
  }
  return out;
}

}  // namespace

bool is_proper_noun_catalog(const std::string& domain) {
  static const std::vector<std::string> kExact = {"iso_3166-2", "iso_3166_2", "iso_639-3", "iso_639_3",
                                                  "iso_639-5", "iso_639_5", "kunitconversion5",
                                                  "geonames", "libgweather-locations"};
  for (const auto& name : kExact)
    if (domain == name) return true;
  const auto ends_with = [&](std::string_view suffix) {
    return domain.size() >= suffix.size() && domain.compare(domain.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with("-timezones") || ends_with("-locations") || domain.rfind("libgweather", 0) == 0;
}

CatalogPairs catalog_pairs(const MoCatalog& catalog, const std::string& locale, const std::string& domain,
                           bool libreoffice) {
  CatalogPairs skipped;
  const LocaleCode parsed = parse_locale(locale);
  if (parsed.status == LocaleCode::Status::kDropped) {
    skipped.skipped = "locale '" + locale + "' is English, a transliteration or not a language";
    return skipped;
  }
  if (is_proper_noun_catalog(domain)) {
    skipped.skipped = "proper-noun catalog";
    return skipped;
  }
  std::unique_ptr<CharsetDecoder> decoder;
  try {
    decoder = std::make_unique<CharsetDecoder>(catalog.charset);
  } catch (const InputError& e) {
    skipped.skipped = e.what();
    return skipped;
  }
  PluralForms plural = PluralForms::germanic();
  if (!catalog.plural_forms.empty()) {
    try {
      plural = PluralForms::parse(catalog.plural_forms);
    } catch (const InputError& e) {
      skipped.skipped = e.what();
      return skipped;
    }
  }
  const int singular_index = plural.index_for(1);
  const int plural_index = plural.index_for(100);

  std::vector<RawPair> raw;
  std::size_t identifier_like = 0, entries = 0;
  for (const MoEntry& entry : catalog.entries) {
    if (is_meta_entry(entry)) continue;
    ++entries;
    if (is_identifier_like(entry.msgid)) ++identifier_like;
    auto add = [&](const std::string& english, std::size_t index) {
      if (index >= entry.msgstrs.size() || entry.msgstrs[index].empty()) return;
      auto e = decode_english(english, *decoder);
      auto s = decoder->to_utf8(entry.msgstrs[index]);
      // Undecodable bytes become U+FFFD so the pair is counted as a bad-encoding drop.
      raw.push_back({e ? *e : std::string("\xEF\xBF\xBD"), s ? *s : std::string("\xEF\xBF\xBD")});
    };
    if (entry.msgid_plural.empty()) {
      add(entry.msgid, 0);
    } else {
      add(entry.msgid, static_cast<std::size_t>(singular_index));
      if (plural_index != singular_index) add(entry.msgid_plural, static_cast<std::size_t>(plural_index));
    }
  }
  if (entries > 0 && identifier_like * 2 > entries) {
    skipped.skipped = "msgids look like keys";
    return skipped;
  }
  return clean_all(raw, resolve_code(parsed, script_samples(raw)), libreoffice);
}

namespace {

struct TemplateField {
  std::string name;
  std::vector<std::string> lines;  // first line, then continuation lines without the leading space
};

std::vector<std::vector<TemplateField>> parse_stanzas(const std::string& text) {
  std::vector<std::vector<TemplateField>> stanzas(1);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (!stanzas.back().empty()) stanzas.emplace_back();
      continue;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      if (!stanzas.back().empty()) stanzas.back().back().lines.push_back(line.substr(1));
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    stanzas.back().push_back({line.substr(0, colon), {value}});
  }
  return stanzas;
}

// Short description, then the extended description's paragraphs.
std::vector<std::string> description_parts(const TemplateField& field) {
  std::vector<std::string> parts = {field.lines[0]};
  std::string paragraph;
  for (std::size_t i = 1; i < field.lines.size(); ++i) {
    if (field.lines[i] == ".") {
      parts.push_back(collapse_spaces(paragraph));
      paragraph.clear();
    } else {
      paragraph += ' ' + field.lines[i];
    }
  }
  if (field.lines.size() > 1) parts.push_back(collapse_spaces(paragraph));
  return parts;
}

std::vector<std::string> choice_items(const std::string& value) {
  std::vector<std::string> items(1);
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size() && value[i + 1] == ',') {
      items.back() += ',';
      ++i;
    } else if (value[i] == ',') {
      items.emplace_back();
    } else {
      items.back() += value[i];
    }
  }
  for (auto& item : items) item = collapse_spaces(item);
  return items;
}

}  // namespace

std::vector<CatalogPairs> debconf_template_pairs(const std::string& templates_text, const std::string& origin) {
  std::map<std::string, std::vector<RawPair>> by_locale;
  for (const auto& stanza : parse_stanzas(templates_text)) {
    const TemplateField* english_description = nullptr;
    const TemplateField* english_choices = nullptr;
    for (const auto& field : stanza) {
      if (field.name == "Description") english_description = &field;
      if (field.name == "Choices") english_choices = &field;
    }
    for (const auto& field : stanza) {
      const bool is_description = field.name.rfind("Description-", 0) == 0;
      const bool is_choices = field.name.rfind("Choices-", 0) == 0;
      if (!is_description && !is_choices) continue;
      const std::string suffix = field.name.substr(field.name.find('-') + 1);
      if (suffix.size() < 7 || suffix.compare(suffix.size() - 6, 6, ".UTF-8") != 0) continue;
      const std::string locale = suffix.substr(0, suffix.size() - 6);
      std::vector<std::string> english, source;
      if (is_description && english_description) {
        english = description_parts(*english_description);
        source = description_parts(field);
      } else if (is_choices && english_choices) {
        if (english_choices->lines[0].find("${") != std::string::npos) continue;
        english = choice_items(english_choices->lines[0]);
        source = choice_items(field.lines[0]);
      }
      if (english.size() != source.size()) continue;  // paragraphs or items do not align
      for (std::size_t i = 0; i < english.size(); ++i)
        if (!english[i].empty() && !source[i].empty()) by_locale[locale].push_back({english[i], source[i]});
    }
  }
  std::vector<CatalogPairs> out;
  for (const auto& [locale, raw] : by_locale) {
    const LocaleCode parsed = parse_locale(locale);
    if (parsed.status == LocaleCode::Status::kDropped) continue;
    bool valid = true;
    for (const auto& p : raw) valid = valid && utf8::is_valid(p.source) && utf8::is_valid(p.english);
    if (!valid) {
      log::warn(origin + ": " + locale + " translations are not valid UTF-8; skipped");
      continue;
    }
    out.push_back(clean_all(raw, resolve_code(parsed, script_samples(raw)), /*libreoffice=*/false));
  }
  return out;
}

}  // namespace moe::data
