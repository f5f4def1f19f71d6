#pragma once
// From one translation catalog (a gettext .mo or a package's debconf
// templates) to cleaned (source, English) pairs of one language code:
// CORPUS.md "Cleaning" steps 1-10 (step 11, duplicates, is per language).
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "data/language_code.h"
#include "data/mo_catalog.h"
#include "data/text_clean.h"

namespace moe::data {

struct CatalogPairs {
  std::string code;  // final language code (zh-Hant, sr-Latn...); empty if skipped
  std::vector<std::pair<std::string, std::string>> pairs;  // (source, English)
  std::map<DropReason, std::size_t> drops;
  // Why the whole catalog was skipped (proper-noun list, key catalog, English,
  // unknown charset...); empty when it was used.
  std::string skipped;
};

// Catalogs that are lists of proper nouns (place and language names) or
// units: their "translations" are transliterations, not sentences.
bool is_proper_noun_catalog(const std::string& domain);

// `locale` is the directory above LC_MESSAGES; `domain` the .mo file's stem;
// `libreoffice` selects LibreOffice's accelerator (~) and %PRODUCTNAME rules.
CatalogPairs catalog_pairs(const MoCatalog& catalog, const std::string& locale, const std::string& domain,
                           bool libreoffice);

// One language's strings from a debconf templates file (DEBIAN/templates):
// Description-xx.UTF-8 / Choices-xx.UTF-8 against the English fields.
// Returns one CatalogPairs per language found; `origin` names the file in errors.
std::vector<CatalogPairs> debconf_template_pairs(const std::string& templates_text, const std::string& origin);

}  // namespace moe::data
