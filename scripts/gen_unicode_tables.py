#!/usr/bin/env python3
"""Writes lib/eval/unicode_tables.cpp: the Unicode data moe-eval needs, as sorted range tables.

Run at development time only (the output is committed):

    python3 scripts/gen_unicode_tables.py > lib/eval/unicode_tables.cpp

Two sources, chosen to match what sacreBLEU 2.6 sees on Debian 12 (docs/eval.md):
  * General categories N/P/S for the `intl` tokenizer come from Unicode 15.0, the
    tables of the `regex` module sacreBLEU uses there. Python's own unicodedata is
    14.0, so they are read from the system ICU 72 (also Unicode 15.0) through
    ctypes; code points assigned in 14.0 are cross-checked against unicodedata.
  * Lowercasing (`-lc`, TER, chrF) is Python's str.lower(), whose data is this
    interpreter's unicodedata (14.0 for Python 3.11). The Final_Sigma context needs
    Cased and Case_Ignorable, which the standard library does not expose: they are
    recovered by probing str.lower() on "Σ" contexts (see case_properties()).
"""
import ctypes
import ctypes.util
import sys
import unicodedata

MAX_CP = 0x10FFFF
ICU_SUFFIXES = ["_72", "_73", "_74", "_75", "_76", ""]

# ICU's UCharCategory values for the classes the intl tokenizer distinguishes.
ICU_NUMBER = {9, 10, 11}                   # Nd Nl No
ICU_PUNCT = {19, 20, 21, 22, 23, 28, 29}   # Pd Ps Pe Pc Po Pi Pf
ICU_SYMBOL = {24, 25, 26, 27}              # Sm Sc Sk So
ICU_UNASSIGNED = 0


def load_icu():
    path = ctypes.util.find_library("icuuc") or "libicuuc.so.72"
    lib = ctypes.CDLL(path)
    for suffix in ICU_SUFFIXES:
        try:
            char_type = getattr(lib, "u_charType" + suffix)
            version = getattr(lib, "u_getUnicodeVersion" + suffix)
            break
        except AttributeError:
            continue
    else:
        sys.exit("gen_unicode_tables: no u_charType in " + path)
    char_type.restype = ctypes.c_int8
    char_type.argtypes = [ctypes.c_int32]
    buf = (ctypes.c_uint8 * 4)()
    version(buf)
    if (buf[0], buf[1]) != (15, 0):
        sys.exit("gen_unicode_tables: ICU has Unicode %d.%d, need 15.0" % (buf[0], buf[1]))
    return char_type


def icu_class(icu_category):
    if icu_category in ICU_NUMBER:
        return "N"
    if icu_category in ICU_PUNCT:
        return "P"
    if icu_category in ICU_SYMBOL:
        return "S"
    return None


def category_ranges(char_type):
    classes = []
    for cp in range(MAX_CP + 1):
        cls = icu_class(char_type(cp))
        if 0xD800 <= cp <= 0xDFFF:
            cls = None
        else:
            py_cat = unicodedata.category(chr(cp))
            if py_cat != "Cn" and cls != {"N": "N", "P": "P", "S": "S"}.get(py_cat[0]):
                sys.exit("gen_unicode_tables: U+%04X is %s in unicodedata but %s in ICU"
                         % (cp, py_cat, cls))
        classes.append(cls)
    return to_ranges(classes)


def to_ranges(values):
    ranges = []
    start = 0
    for cp in range(1, len(values) + 1):
        if cp == len(values) or values[cp] != values[start]:
            if values[start]:
                ranges.append((start, cp - 1, values[start]))
            start = cp
    return ranges


def case_properties():
    """Cased (for non-case-ignorable code points) and Case_Ignorable, by probing lower().

    Python lowers U+03A3 to final sigma when a cased letter precedes it (skipping
    case-ignorables) and no cased letter follows it (skipping case-ignorables).
      ("A" + x + "Σ").lower() ends in "ς"  iff x is case-ignorable or cased;
      ("AΣ" + x).lower() has "ς"           iff x is case-ignorable or not cased.
    Both hold iff x is case-ignorable; otherwise the first says whether x is cased.
    """
    cased = []
    ignorable = []
    for cp in range(MAX_CP + 1):
        if 0xD800 <= cp <= 0xDFFF:
            cased.append(None)
            ignorable.append(None)
            continue
        x = chr(cp)
        before = ("A" + x + "\u03a3").lower()[-1] == "\u03c2"
        after = "\u03c2" in ("A\u03a3" + x).lower()[:2]
        is_ignorable = before and after
        ignorable.append("I" if is_ignorable else None)
        cased.append("C" if (before and not is_ignorable) else None)
    return to_ranges(cased), to_ranges(ignorable)


def lowercase_pairs():
    pairs = []
    for cp in range(MAX_CP + 1):
        if 0xD800 <= cp <= 0xDFFF or cp == 0x03A3:
            continue
        lower = chr(cp).lower()
        if lower == chr(cp):
            continue
        if len(lower) != 1:
            if cp != 0x0130 or lower != "i\u0307":
                sys.exit("gen_unicode_tables: unexpected multi-character lowercase U+%04X" % cp)
            continue  # handled in code: the only mapping that grows
        pairs.append((cp, ord(lower)))
    return pairs


def python_whitespace():
    return [cp for cp in range(MAX_CP + 1) if chr(cp).isspace()]


def wrap(items, indent="   ", limit=96):
    """Lays out C++ initializer items on lines of at most `limit` characters."""
    lines = []
    line = indent
    for item in items:
        if len(line) + len(item) > limit:
            lines.append(line)
            line = indent
        line += item
    lines.append(line)
    return lines


def emit_ranges(name, ranges, with_class):
    out = []
    if with_class:
        out.append("extern const CategoryRange %s[] = {" % name)
        for lo, hi, cls in ranges:
            out.append("    {0x%04X, 0x%04X, UnicodeClass::k%s}," % (lo, hi, {
                "N": "Number", "P": "Punctuation", "S": "Symbol"}[cls]))
    else:
        out.append("extern const CodePointRange %s[] = {" % name)
        out += wrap(" {0x%04X, 0x%04X}," % (lo, hi) for lo, hi, _ in ranges)
    out.append("};")
    out.append("extern const std::size_t %sSize = %d;" % (name, len(ranges)))
    return out


def main():
    char_type = load_icu()
    categories = category_ranges(char_type)
    cased, ignorable = case_properties()
    lower = lowercase_pairs()
    spaces = python_whitespace()
    lines = [
        "// GENERATED by scripts/gen_unicode_tables.py -- do not edit by hand.",
        "// General categories (N/P/S): Unicode 15.0 (ICU %s, cross-checked with Python"
        " unicodedata %s)." % ("72", unicodedata.unidata_version),
        "// Lowercase, Cased, Case_Ignorable, whitespace: Python %d.%d str.lower()/isspace()"
        " (Unicode %s)." % (sys.version_info[0], sys.version_info[1], unicodedata.unidata_version),
        "#include \"eval/unicode_tables.h\"",
        "",
        "namespace moe::eval::unicode_data {",
        "",
        "extern const char kCategoryUnicodeVersion[] = \"15.0\";",
        "extern const char kCaseUnicodeVersion[] = \"%s\";" % unicodedata.unidata_version,
        "",
    ]
    lines += emit_ranges("kCategoryRanges", categories, True)
    lines.append("")
    lines += emit_ranges("kCasedRanges", cased, False)
    lines.append("")
    lines += emit_ranges("kCaseIgnorableRanges", ignorable, False)
    lines.append("")
    lines.append("extern const LowercasePair kLowercasePairs[] = {")
    lines += wrap(" {0x%04X, 0x%04X}," % (cp, lo) for cp, lo in lower)
    lines.append("};")
    lines.append("extern const std::size_t kLowercasePairsSize = %d;" % len(lower))
    lines.append("")
    lines.append("extern const char32_t kWhitespace[] = {")
    lines += wrap(" 0x%04X," % cp for cp in spaces)
    lines.append("};")
    lines.append("extern const std::size_t kWhitespaceSize = %d;" % len(spaces))
    lines.append("")
    lines.append("}  // namespace moe::eval::unicode_data")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
