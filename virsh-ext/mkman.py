#!/usr/bin/python3
"""Turns a manual page source (virsh-ext/*.md, a small Markdown subset) into
a man page, or into the C++ header holding the --help text, so that both
come from one source.

Source: a first line `# NAME SECTION "summary"`; `## HEADING` sections;
paragraphs; 4-space indented literal blocks; `* TERM:` items whose
description follows on 2-space indented lines. `code` spans are bold.

Usage: mkman.py --man SRC > OUT   |   mkman.py --help-header SRC > OUT.h"""

import re
import sys

HELP_SECTIONS = ("SYNOPSIS", "COMMANDS", "OPTIONS", "EXIT STATUS")


def parse(text):
    lines = text.splitlines()
    m = re.match(r'# (\S+) (\d) "(.*)"$', lines[0])
    if not m:
        sys.exit(f"mkman: first line must be '# NAME SECTION \"summary\"': {lines[0]!r}")
    sections, current = [], None
    for line in lines[1:]:
        if line.startswith("## "):
            current = (line[3:].strip(), [])
            sections.append(current)
        elif current is not None:
            current[1].append(line)
    return m.group(1), m.group(2), m.group(3), sections


def blocks(lines):
    """(kind, payload) for 'para' (text), 'code' (lines), 'item' (term, text)."""
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("    "):
            code = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                code.append(lines[i][4:])
                i += 1
            while code and not code[-1].strip():
                code.pop()
            out.append(("code", code))
        elif line.startswith("* "):
            term = line[2:].rstrip().rstrip(":")
            desc = []
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and not lines[i].startswith("    "):
                desc.append(lines[i].strip())
                i += 1
            out.append(("item", (term, " ".join(desc))))
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("* ", "    ")):
                para.append(lines[i].strip())
                i += 1
            out.append(("para", " ".join(para)))
    return out


def roff_escape(s):
    s = s.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", s)


def roff_inline(s):
    return re.sub(r"`([^`]*)`", lambda m: "\\fB" + m.group(1) + "\\fR", roff_escape(s))


def man(name, section, summary, sections):
    out = [f'.TH {name.upper()} {section} "" "Arrow" "{summary}"']
    for heading, lines in sections:
        out.append(f".SH {heading}")
        for kind, payload in blocks(lines):
            if kind == "para":
                out += [".PP", roff_inline(payload)]
            elif kind == "code":
                out += [".PP", ".nf", ".RS 4"] + [roff_escape(l) for l in payload] + [".RE", ".fi"]
            else:
                out += [".TP", roff_inline(payload[0]), roff_inline(payload[1])]
    return "\n".join(out) + "\n"


def plain(s):
    return s.replace("`", "")


def help_text(name, section, summary, sections):
    import textwrap
    out = [f"{name}: {summary}", ""]
    for heading, lines in sections:
        if heading not in HELP_SECTIONS:
            continue
        out.append(heading.capitalize() + ":")
        for kind, payload in blocks(lines):
            if kind == "code":
                out += ["  " + l for l in payload]
            elif kind == "para":
                out += textwrap.wrap(plain(payload), 78, initial_indent="  ", subsequent_indent="  ")
            else:
                out.append("  " + plain(payload[0]))
                out += textwrap.wrap(plain(payload[1]), 78, initial_indent="      ", subsequent_indent="      ")
        out.append("")
    out.append(f"The manual page {name}({section}) says more.")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("--man", "--help-header"):
        sys.exit(__doc__)
    with open(sys.argv[2], encoding="utf-8") as f:
        name, section, summary, sections = parse(f.read())
    if sys.argv[1] == "--man":
        sys.stdout.write(man(name, section, summary, sections))
    else:
        text = help_text(name, section, summary, sections)
        sys.stdout.write(f"// Generated from {sys.argv[2].split('/')[-2]}/{sys.argv[2].split('/')[-1]} "
                         "by mkman.py: do not edit.\n#pragma once\n"
                         f'inline constexpr const char* kArrowHelp = R"arrowhelp({text})arrowhelp";\n')


main()
