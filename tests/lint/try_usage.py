#!/usr/bin/env python3
# Checks every use of TRY(...) (util/result.h) in the C/C++ sources.
#
# TRY is a statement expression that returns from the enclosing function on
# error. Returning from the middle of a full expression skips the destructors
# of whatever the expression had already constructed: in
# `EnvVar{name, TRY(leaf_text(n))}` the copy of `name` leaks (libFuzzer's leak
# detection found exactly that). So TRY is allowed only where nothing else of
# the expression exists yet:
#   TRY(f());                    a whole statement
#   auto x = TRY(f());           the entire initializer of a named variable
#   const T& x = TRY(f());       (any declaration of one variable)
#   x.member = TRY(f());         a plain assignment statement
# optionally after `if (...)`, `else`, `while (...)`, `for (...)`, `do`,
# `case ...:`, `default:` or a label. Anything else — an argument, an operand,
# part of a braced initializer, a condition, `return TRY(f())...` — is
# reported as FILE:LINE, and the script exits 1.
#
# Usage: try_usage.py [SRCDIR]   (default: $ARROW_SRCDIR, else the tree this
# script is in). Before scanning, it checks itself on in-memory samples, so a
# checker that cannot fail fails loudly (exit 2).
import os
import re
import sys

EXTENSIONS = (".cc", ".h", ".c")
LITERAL_PREFIXES = {"u8", "u", "U", "L", "R", "u8R", "uR", "UR", "LR"}
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PPNUMBER = re.compile(r"\.?[0-9](?:[eEpP][+-]|'[0-9A-Za-z_]|[0-9A-Za-z_.])*")


def blank(text):
    """TEXT with comments, string and character literals and preprocessor
    directives replaced by spaces (newlines kept, so offsets and line
    numbers stay). Returns (code, directives): directives is a list of
    (offset, text) of the preprocessor lines."""
    out = list(text)
    directives = []
    i, n = 0, len(text)
    at_line_start = True  # only whitespace since the last newline

    def wipe(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "\n":
            at_line_start = True
            i += 1
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if c == "#" and at_line_start:
            # A directive runs to the first newline not escaped by '\'
            # (comments inside it are wiped with it).
            j = i
            while j < n and text[j] != "\n":
                if text.startswith("/*", j):
                    end = text.find("*/", j + 2)
                    j = n if end < 0 else end + 2
                    continue
                if text[j] == "\\" and j + 1 < n and text[j + 1] == "\n":
                    j += 2
                    continue
                j += 1
            directives.append((i, text[i:j]))
            wipe(i, j)
            i = j
            continue
        at_line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            # A comment continued by a trailing backslash goes on.
            while j < n and j > 0 and text[j - 1] == "\\":
                k = text.find("\n", j + 1)
                j = n if k < 0 else k
            wipe(i, j)
            i = j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            wipe(i, j)
            i = j
            continue
        m = IDENT.match(text, i)
        if m:
            word = m.group(0)
            j = m.end()
            if word in LITERAL_PREFIXES and j < n and text[j] in "\"'":
                if word.endswith("R") and text[j] == '"':
                    i = raw_string(text, i, j, wipe)
                else:
                    i = quoted(text, j, wipe)
                continue
            i = j
            continue
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            m = PPNUMBER.match(text, i)
            i = m.end()
            continue
        if c in "\"'":
            i = quoted(text, i, wipe)
            continue
        i += 1
    return "".join(out), directives


def quoted(text, i, wipe):
    """Wipes the literal opened by the quote at I, quotes kept; returns the
    offset after it."""
    q = text[i]
    j = i + 1
    n = len(text)
    while j < n and text[j] != q and text[j] != "\n":
        j += 2 if text[j] == "\\" else 1
    wipe(i + 1, min(j, n))
    return min(j + 1, n)


def raw_string(text, start, quote, wipe):
    m = re.compile(r'"([^()\\\s]{0,16})\(').match(text, quote)
    if not m:
        return quoted(text, quote, wipe)
    end = text.find(")" + m.group(1) + '"', m.end())
    end = len(text) if end < 0 else end + len(m.group(1)) + 2
    wipe(quote + 1, end - 1)
    return end


OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {")": "(", "]": "[", "}": "{"}


def matching_close(code, i):
    """Offset of the bracket closing the one at I, or -1."""
    depth = 0
    for j in range(i, len(code)):
        c = code[j]
        if c in OPENERS:
            depth += 1
        elif c in CLOSERS:
            depth -= 1
            if depth == 0:
                return j
    return -1


def statement_prefix(code, i):
    """The text from the start of the statement holding offset I to I, or
    None when I sits inside an unclosed '(' or '[' (an argument, a
    condition, an operand in brackets)."""
    depth = 0
    j = i - 1
    while j >= 0:
        c = code[j]
        if c in CLOSERS:
            if depth == 0 and c == "}":
                return code[j + 1:i]  # the end of a block or of an initializer
            depth += 1
        elif c in OPENERS:
            if depth == 0:
                if c == "{":
                    return code[j + 1:i]  # a block, or a braced initializer
                return None
            depth -= 1
        elif c == ";" and depth == 0:
            return code[j + 1:i]
        j -= 1
    return code[:i]


CONTROL = re.compile(r"\s*(?:(?:if|while|for|switch)\s*(?:constexpr\s*)?\(|else\b|do\b|"
                     r"case\b|default\s*:(?!:)|[A-Za-z_][A-Za-z0-9_]*\s*:(?!:))")
KEYWORDS_NOT_LHS = {"return", "co_return", "co_yield", "throw", "sizeof", "new", "delete",
                    "if", "while", "for", "switch", "case", "default", "do", "else", "goto"}
LHS_TOKEN = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*|::|->|\.|\*|&&|&|<|>|,|\[|\])")


def strip_control(prefix):
    """PREFIX without the control-flow heads in front of its statement, or
    None when one is malformed (so TRY is inside it)."""
    while True:
        m = CONTROL.match(prefix)
        if not m:
            return prefix
        head = m.group(0).strip()
        if head.endswith("("):
            close = matching_close(prefix, m.end() - 1)
            if close < 0:
                return None
            prefix = prefix[close + 1:]
        elif head == "case":
            # `case EXPR:` — up to the first ':' that is not part of '::'.
            k = m.end()
            while True:
                k = prefix.find(":", k)
                if k < 0:
                    return None
                if prefix.startswith("::", k):
                    k += 2
                    continue
                break
            prefix = prefix[k + 1:]
        else:
            prefix = prefix[m.end():]


def lhs_ok(lhs):
    """Whether LHS (the text before '= TRY(') is one variable's declaration
    or a plain lvalue: names, '::', '.', '->', '*', '&', template brackets,
    subscripts; one '=' only, no call, no operator, no top-level comma."""
    lhs = lhs.strip()
    if not lhs:
        return False
    pos, angle, square, words = 0, 0, 0, []
    while pos < len(lhs):
        while pos < len(lhs) and lhs[pos].isspace():
            pos += 1
        if pos == len(lhs):
            break
        m = LHS_TOKEN.match(lhs, pos)
        if not m:
            if square > 0 and lhs[pos] in "0123456789+-":  # a[i + 1]
                pos += 1
                continue
            return False
        tok = m.group(0).strip()
        pos = m.end()
        if tok == "<":
            angle += 1
        elif tok == ">":
            angle -= 1
        elif tok == "[":
            square += 1
        elif tok == "]":
            square -= 1
        elif tok == "," and angle == 0 and square == 0:
            return False
        elif IDENT.fullmatch(tok):
            if tok in KEYWORDS_NOT_LHS:
                return False
            words.append(tok)
        if angle < 0 or square < 0:
            return False
    return angle == 0 and square == 0 and bool(words)


def try_ok(code, start, close):
    """Whether the TRY spanning START..CLOSE (its ')') is an allowed form."""
    after = code[close + 1:].lstrip()
    if not after.startswith(";"):
        return False
    prefix = statement_prefix(code, start)
    if prefix is None:
        return False
    prefix = strip_control(prefix)
    if prefix is None:
        return False
    if prefix.strip() == "":
        return True
    body = prefix.rstrip()
    if not body.endswith("=") or body[-2:-1] in ("=", "!", "<", ">", "+", "-", "*", "/", "%", "&", "|", "^"):
        return False
    return lhs_ok(body[:-1])


TRY_USE = re.compile(r"(?<![A-Za-z0-9_])TRY\s*\(")
TRY_DEFINE = re.compile(r"#\s*define\s+TRY\s*\(")


def check_text(text):
    """[(line, message)] for TEXT, one C/C++ file."""
    code, directives = blank(text)
    problems = []

    def line_of(offset):
        return text.count("\n", 0, offset) + 1

    for offset, directive in directives:
        if TRY_DEFINE.match(directive):
            continue  # util/result.h's definition
        if TRY_USE.search(directive):
            problems.append((line_of(offset), "TRY inside a preprocessor directive (cannot be checked)"))
    for m in TRY_USE.finditer(code):
        open_paren = m.end() - 1
        close = matching_close(code, open_paren)
        if close < 0:
            problems.append((line_of(m.start()), "TRY( without its closing ')'"))
            continue
        if not try_ok(code, m.start(), close):
            snippet = " ".join(text[m.start():close + 1].split())
            if len(snippet) > 60:
                snippet = snippet[:57] + "..."
            problems.append((line_of(m.start()),
                             "%s: TRY only as a whole statement or a whole initializer or assignment "
                             "(`auto v = TRY(...);`)" % snippet))
    return problems


# The self-test: (source, lines expected to be reported).
SAMPLES = [
    ("""Status f(const xmlNode* n, Def& def) {
  TRY(check_attrs(n, {"name"}));
  std::string type = trim(TRY(leaf_text(n)));
  auto name = TRY(required_attr(n, "name"));
  def.env.push_back(EnvVar{name, TRY(leaf_text(n))});
  const std::vector<std::pair<int, int>>& v = TRY(pairs(n));
  def.uuid = TRY(uuid_parse(TRY(leaf_text(n))));
  if (x) r.end = TRY(port_attr(n, "end"));
  else if (y) TRY(g(")", ';'));
  return TRY(find(n))->ref;
}
""", [3, 5, 7, 10]),
    ("""Status g(Call& call, XdrWriter& ret) {
  // TRY(in a comment) and "TRY(in a string)" are not uses.
  for (auto& s : TRY(list())) {}
  ret.i32(TRY(call.driver.is_active(
      TRY(dom_arg(call)))) ? 1 : 0);
  auto [a, b] = TRY(split(
      s, ','));
  switch (c) {
    case 'u': put_utf8(out, TRY(codepoint())); break;
    case kA::kB: x = TRY(h()); break;
    default: TRY(h());
  }
  Foo f{TRY(h())};
  auto l = [&]() -> Status { TRY(h()); return {}; };
  a = b = TRY(h());
  x += TRY(h());
  int a1 = 1'000, b1 = TRY(h());
  if (TRY(h()) == 1) {}
  m[i + 1] = TRY(h());
  XmlDocPtr doc = TRY(xml_parse(R"x(TRY(f())";)x"));
}
""", [3, 4, 5, 9, 13, 15, 16, 17, 18]),
]


def self_test():
    ok = True
    for source, expected in SAMPLES:
        got = sorted({line for line, _ in check_text(source)})
        if got != expected:
            print("try_usage.py self-test FAILED: expected lines %s, got %s in:\n%s" % (expected, got, source),
                  file=sys.stderr)
            ok = False
    return ok


def source_files(top):
    for root, dirs, files in os.walk(top):
        rel = os.path.relpath(root, top)
        keep = []
        for d in sorted(dirs):
            path = os.path.join(root, d)
            if d.startswith(".") or d == "autom4te.cache":
                continue
            if rel == "." and d.startswith("build"):
                continue  # ./build, ./build-*: build trees
            if os.path.exists(os.path.join(path, "config.status")):
                continue  # any other configured build tree
            keep.append(d)
        dirs[:] = keep
        for f in sorted(files):
            if f.endswith(EXTENSIONS):
                yield os.path.join(root, f)


def main(argv):
    if not self_test():
        return 2
    top = argv[1] if len(argv) > 1 else os.environ.get("ARROW_SRCDIR") or \
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    count, files = 0, 0
    for path in source_files(top):
        files += 1
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for line, message in check_text(text):
            print("%s:%d: %s" % (os.path.relpath(path, top), line, message))
            count += 1
    if files == 0:
        print("try_usage.py: no C/C++ sources under %s" % top, file=sys.stderr)
        return 2
    print("try_usage.py: %d C/C++ files checked, %d TRY use(s) outside the allowed forms" % (files, count))
    return 1 if count else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
