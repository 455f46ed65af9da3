#!/usr/bin/env python3
"""Fails if the modules of a crate import each other in a loop.

Usage: python3 scripts/check-module-cycles.py [SRC_DIR ...]
With no arguments it checks the repository's root `src/` and every `crates/*/src`.

One node per module file; a module written inline (`mod imp { ... }`) belongs to its file,
except an inline `#[cfg(test)] mod tests { ... }`: test code is a module nothing imports, so
it cannot close a loop, and its imports (fixtures that use the module under test) are left out.
An edge A -> B means A names B in a path: `use crate::b::X`, `use super::X`, `self::b::f()`,
`crate::b::f()` in an expression, or a bare `b::f()` where `b` is a child module A declares or a
name A imported. A parent declaring its children (`mod b;`) is not an edge: declaring is
ownership, not a dependency. Nor is a re-export (`pub use b::X;`, any `pub(...)`) by itself: it
passes the name through, and whoever names `X` through A gets an edge to where it is defined
(`b`), the code depended on; only if A's own code also uses `X` is there an edge A -> b. Naming
the crate root (`use crate::Gateway`) is an edge to `lib.rs`.

Each group of modules that reach each other is printed with one shortest loop through it and
the lines that close it; the exit status is 1 if there is any, unless every file of the group
is on one line of the allow-list (scripts/module-cycles-allowed.txt: known loops not yet broken,
one group per line, so a group may shrink but not grow or appear). Standard library only; the
parsing is lexical (comments and strings are blanked first), so paths built by macros and
`#[path]` attributes are not followed.
"""

import os
import re
import sys
from collections import defaultdict, deque

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def blank(text):
    return re.sub(r"[^\n]", " ", text)


def strip_comments_and_strings(src):
    """Blanks comments and string/char literals, keeping newlines so line numbers hold."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        prev_word = i > 0 and (src[i - 1].isalnum() or src[i - 1] == "_")
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j == -1 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(src[i:j]))
            i = j
        elif not prev_word and (m := re.match(r'b?r(#*)"', src[i : i + 40])):
            end = '"' + m.group(1)
            j = src.find(end, i + m.end())
            j = n if j == -1 else j + len(end)
            out.append(blank(src[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(blank(src[i:j]))
            i = j
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}'); a lifetime ('a) has no closing quote.
            m = re.match(r"'(\\[^']{1,10}|[^\\'])'", src[i : i + 14])
            if m:
                out.append(" " * m.end())
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use_tree(tree):
    """`a::{b, c::{d, self}, e as f}` -> [[a, b], [a, c, d], [a, c], [a, e]]; `*` is dropped."""
    tree = re.sub(r"\s+as\s+" + IDENT, "", tree)
    tree = re.sub(r"\s+", "", tree)
    results = []

    def parse(s, prefix):
        depth, start, parts = 0, 0, []
        for k, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(s[start:k])
                start = k + 1
        parts.append(s[start:])
        for part in parts:
            if not part:
                continue
            brace = part.find("{")
            if brace != -1:
                head = part[:brace]
                segs = head.split("::")[:-1] if head else []
                parse(part[brace + 1 : part.rfind("}")], prefix + segs)
            else:
                segs = prefix + part.split("::")
                if segs and segs[-1] in ("self", "*"):
                    segs = segs[:-1]
                results.append(segs)

    parse(tree, [])
    return results


class Module:
    def __init__(self, path, file, owns_dir):
        self.path = path  # tuple of segments; () is the crate root
        self.file = file
        # lib.rs, main.rs and mod.rs keep their children beside them; a.rs keeps them in a/.
        self.owns_dir = owns_dir
        self.text = ""
        self.children = set()
        self.imports = {}  # name -> the absolute path it was imported from


def child_file(mod, name):
    base = os.path.dirname(mod.file) if mod.owns_dir else os.path.splitext(mod.file)[0]
    for cand, owns_dir in (
        (os.path.join(base, name + ".rs"), False),
        (os.path.join(base, name, "mod.rs"), True),
    ):
        if os.path.isfile(cand):
            return cand, owns_dir
    return None, None


def load_crate(root_file):
    """Follows `mod x;` declarations from the crate root; returns {path: Module}."""
    modules = {}
    queue = [Module((), root_file, True)]
    while queue:
        mod = queue.pop()
        with open(mod.file, encoding="utf-8") as f:
            mod.text = strip_comments_and_strings(f.read())
        modules[mod.path] = mod
        for m in re.finditer(r"\bmod\s+(" + IDENT + r")\s*;", mod.text):
            path, owns_dir = child_file(mod, m.group(1))
            if path is not None:
                mod.children.add(m.group(1))
                queue.append(Module(mod.path + (m.group(1),), path, owns_dir))
        # Inline modules: their names resolve from here, but they live in this file.
        for m in re.finditer(r"\bmod\s+(" + IDENT + r")\s*\{", mod.text):
            mod.children.add(m.group(1))
    return modules


TEST_ATTR_RE = re.compile(r"#\[cfg\(test\)\]\s*$")


def inline_depths(text):
    """For each offset, how many inline `mod x { ... }` blocks enclose it; -1 inside an inline
    `#[cfg(test)]` module."""
    depths = [0] * (len(text) + 1)
    opened = []  # (brace depth at which an inline module opened, whether it is test code)

    def level():
        return -1 if any(test for _, test in opened) else len(opened)

    brace, pos = 0, 0
    for m in re.finditer(r"\bmod\s+" + IDENT + r"\s*\{|[{}]", text):
        depths[pos : m.start()] = [level()] * (m.start() - pos)
        tok = m.group(0)
        if tok == "{":
            brace += 1
        elif tok == "}":
            if opened and opened[-1][0] == brace:
                opened.pop()
            brace -= 1
        else:
            brace += 1
            test = bool(TEST_ATTR_RE.search(text[max(0, m.start() - 60) : m.start()]))
            opened.append((brace, test))
        depths[m.start() : m.end()] = [level()] * (m.end() - m.start())
        pos = m.end()
    depths[pos:] = [level()] * (len(depths) - pos)
    return depths


def absolute(segs, mod, depth):
    """Turns a path written in `mod`, inside `depth` inline modules, into crate-absolute
    segments; None for paths into other crates."""
    if not segs or not segs[0]:
        return None
    head = segs[0]
    if head == "crate":
        return segs[1:]
    if head in ("super", "self"):
        # Inline modules count as levels of their own: `super` in `mod tests {}` is the file.
        levels = depth
        cur = list(mod.path)
        rest = segs
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super":
                if levels:
                    levels -= 1
                elif cur:
                    cur = cur[:-1]
                else:
                    return None
            rest = rest[1:]
        return cur + rest
    if head in mod.children:
        return list(mod.path) + segs
    if head in mod.imports:
        return mod.imports[head] + segs[1:]
    return None


def resolve(abs_segs, modules, seen=None):
    """The module file an absolute path lands in, following re-exports and imports."""
    seen = seen if seen is not None else set()
    for k in range(len(abs_segs), -1, -1):
        prefix = tuple(abs_segs[:k])
        if prefix in modules:
            rest = abs_segs[k:]
            if rest:
                target = modules[prefix].imports.get(rest[0])
                if target is not None and (prefix, rest[0]) not in seen:
                    seen.add((prefix, rest[0]))
                    return resolve(target + rest[1:], modules, seen)
            return prefix
    return None


USE_RE = re.compile(r"\buse\s+([^;]+);")
PUB_BEFORE_RE = re.compile(r"\bpub\s*(\([^)]*\))?\s*$")
PATH_RE = re.compile(r"(?<![A-Za-z0-9_:])(" + IDENT + r"(?:\s*::\s*" + IDENT + r")+)")


def build_graph(modules):
    """{from: {to: [line numbers]}}"""
    uses = {}
    for mod in modules.values():
        depths = inline_depths(mod.text)
        entries = []
        for m in USE_RE.finditer(mod.text):
            line = mod.text.count("\n", 0, m.start()) + 1
            public = bool(PUB_BEFORE_RE.search(mod.text[max(0, m.start() - 40) : m.start()]))
            for segs in expand_use_tree(m.group(1)):
                entries.append((segs, depths[m.start()], line, m.span(), public))
        uses[mod.path] = entries
    # A file's top-level imports name things for its paths and its children's `super::X`;
    # two passes settle chains such as `use a::b; use b::c;`.
    for _ in range(2):
        for mod in modules.values():
            for segs, depth, _line, _span, _public in uses[mod.path]:
                if depth == 0 and segs and segs[-1] not in ("super", "crate", "self"):
                    abs_segs = absolute(segs, mod, 0)
                    if abs_segs is not None:
                        mod.imports[segs[-1]] = abs_segs

    graph = defaultdict(lambda: defaultdict(list))

    def add(mod, abs_segs, line, depth):
        if abs_segs is None or depth < 0:
            return
        target = resolve(abs_segs, modules)
        if target is not None and target != mod.path:
            graph[mod.path][target].append(line)

    for mod in modules.values():
        spans = [span for _segs, _depth, _line, span, _public in uses[mod.path]]
        outside = "".join(
            mod.text[a:b] for a, b in zip([0] + [e for _, e in spans], [s for s, _ in spans] + [None])
        )
        outside = re.sub(r"\bmod\s+" + IDENT + r"\s*;", "", outside)
        for segs, depth, line, _span, public in uses[mod.path]:
            # A re-export is an edge only if this module's own code uses the name too.
            if public and segs and not re.search(r"\b" + re.escape(segs[-1]) + r"\b", outside):
                continue
            add(mod, absolute(segs, mod, depth), line, depth)
        depths = inline_depths(mod.text)
        for m in PATH_RE.finditer(mod.text):
            if any(a <= m.start() < b for a, b in spans):
                continue
            segs = [s.strip() for s in m.group(1).split("::")]
            line = mod.text.count("\n", 0, m.start()) + 1
            depth = depths[m.start()]
            add(mod, absolute(segs, mod, depth), line, depth)
    return graph


def strongly_connected(graph, nodes):
    """Tarjan's algorithm, iterative; returns the components with more than one module."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(sorted(graph.get(root, {}))))]
        while work:
            node, it = work[-1]
            pushed = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, {})))))
                    pushed = True
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            if pushed:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def shortest_loop(graph, comp):
    members = set(comp)
    best = None
    for start in comp:
        prev = {start: None}
        queue = deque([start])
        last = None
        while queue and last is None:
            v = queue.popleft()
            for w in sorted(graph.get(v, {})):
                if w == start:
                    last = v
                    break
                if w in members and w not in prev:
                    prev[w] = v
                    queue.append(w)
        if last is not None:
            path = [last]
            while prev[path[-1]] is not None:
                path.append(prev[path[-1]])
            path.reverse()
            if best is None or len(path) < len(best):
                best = path
    return best + [best[0]]


def load_allowed(path):
    """The allow-list: one group of files per line, `#` starts a comment."""
    if not os.path.isfile(path):
        return []
    groups = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            files = line.split("#", 1)[0].split()
            if files:
                groups.append(set(files))
    return groups


def check(src_dir, base, allowed=()):
    """(failing, allowed) report lines for the cycles of each crate rooted in `src_dir`."""
    report, tolerated = [], []
    for root_name in ("lib.rs", "main.rs"):
        root_file = os.path.join(src_dir, root_name)
        if not os.path.isfile(root_file):
            continue
        modules = load_crate(root_file)
        graph = build_graph(modules)

        def name(p):
            return os.path.relpath(modules[p].file, base)

        for comp in strongly_connected(graph, modules.keys()):
            files = {name(p) for p in comp}
            out = tolerated if any(files <= group for group in allowed) else report
            kind = "allowed cycle" if out is tolerated else "cycle"
            out.append(f"{kind} among {len(comp)} modules of the crate at {name(())}:")
            out.append("  loop: " + " -> ".join(name(p) for p in shortest_loop(graph, comp)))
            for a in comp:
                for b in sorted(graph[a]):
                    if b in comp:
                        lines = ",".join(str(x) for x in sorted(set(graph[a][b])))
                        out.append(f"  {name(a)}:{lines} -> {name(b)}")
    return report, tolerated


def main(argv):
    if argv:
        base, dirs, allowed = os.getcwd(), argv, []
    else:
        base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        crates = os.path.join(base, "crates")
        dirs = [os.path.join(base, "src")]
        dirs += [os.path.join(crates, c, "src") for c in sorted(os.listdir(crates))]
        allowed = load_allowed(os.path.join(base, "scripts", "module-cycles-allowed.txt"))
    report, tolerated = [], []
    for d in dirs:
        failing, known = check(d, base, allowed)
        report += failing
        tolerated += known
    if tolerated:
        print("\n".join(tolerated))
        print("(the cycles above are on scripts/module-cycles-allowed.txt: known, to be broken)")
    if report:
        print("\n".join(report))
        print(
            "module import cycles found: move what both sides need into a lower module "
            "(docs/dev/architecture.md, 'Module layering')"
        )
        return 1
    print(f"no module import cycles outside the allow-list in {len(dirs)} source trees")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
