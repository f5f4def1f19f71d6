#pragma once
// Reader for GNU gettext binary catalogs (.mo), either byte order. Strings
// come back as the catalog's raw bytes; `charset` says how to decode them
// (see charset.h). Fuzzy and untranslated entries never reach a .mo file.
#include <string>
#include <string_view>
#include <vector>

namespace moe::data {

struct MoEntry {
  std::string context;       // msgctxt, empty if none
  std::string msgid;         // English singular
  std::string msgid_plural;  // English plural, empty if the entry has no plural
  std::vector<std::string> msgstrs;  // one per plural form (one if no plural)
};

struct MoCatalog {
  std::string charset = "UTF-8";  // from the header's Content-Type, as written
  std::string plural_forms;       // the header's Plural-Forms value, empty if absent
  std::string language;           // the header's Language value, empty if absent
  std::vector<MoEntry> entries;   // without the header entry (msgid "")
};

// Parses the bytes of a .mo file; `origin` names it in errors. Throws
// FileError("origin: ...") on a bad magic number or an offset outside the
// file: a truncated or corrupt catalog.
MoCatalog parse_mo(std::string_view bytes, const std::string& origin);

// Reads and parses a .mo file from disk.
MoCatalog read_mo_file(const std::string& path);

// The bytes of a .mo file holding `catalog` (a header entry carrying its
// charset, Plural-Forms and Language, then the entries sorted by key as
// gettext's binary search needs), in either byte order, without a hash
// table. Strings are written as given: encode them in `catalog.charset`.
std::string serialize_mo(const MoCatalog& catalog, bool big_endian = false);

}  // namespace moe::data
