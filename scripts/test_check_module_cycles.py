#!/usr/bin/env python3
"""Tests for check-module-cycles.py on tiny crates written to a temporary directory.

Run: python3 scripts/test_check_module_cycles.py (CI runs it before the checker itself).
"""

import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "check-module-cycles.py")
spec = importlib.util.spec_from_file_location("check_module_cycles", SCRIPT)
checker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(checker)


def write_tree(root, files):
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))


# A layered crate: phases import a low `request` module and their parent declares them.
# None of it is a loop, including the parent using its children and tests using `super::*`.
LAYERED = {
    "src/lib.rs": """
        //! root
        mod request;
        mod pipeline;
        pub use request::Values;
        pub fn run() { pipeline::run() }
    """,
    "src/request.rs": """
        pub struct Values;
        // use crate::pipeline::validate;  (a comment is not an import)
        const S: &str = "crate::pipeline::validate";
    """,
    "src/pipeline/mod.rs": """
        mod forward;
        mod validate;
        pub(crate) fn run() { validate::check(); forward::send(); }
    """,
    "src/pipeline/validate.rs": """
        use crate::request::Values;
        pub(crate) fn check() {}
        #[cfg(test)]
        mod tests { use super::*; }
    """,
    "src/pipeline/forward.rs": """
        use crate::Values;
        pub(crate) fn send() { let _ = crate::request::Values; }
    """,
}

# The gateway's old loop in small: forward takes `Values` from the validate phase, and validate
# calls back into forward through a grouped import.
CYCLE = {
    "src/lib.rs": "mod pipeline;\nmod request;\n",
    "src/request.rs": "pub struct Id;\n",
    "src/pipeline/mod.rs": "mod forward;\nmod validate;\n",
    "src/pipeline/validate.rs": """
        use super::{forward::{self, send}};
        pub struct Values;
    """,
    "src/pipeline/forward.rs": """
        use crate::request::Id;
        pub fn send(v: super::validate::Values) {}
    """,
}


class CheckerTest(unittest.TestCase):
    def check(self, files, allowed=()):
        with tempfile.TemporaryDirectory() as root:
            write_tree(root, files)
            return checker.check(os.path.join(root, "src"), root, [set(g) for g in allowed])

    def test_layered_crate_has_no_cycle(self):
        failing, tolerated = self.check(LAYERED)
        self.assertEqual(failing, [])
        self.assertEqual(tolerated, [])

    def test_cycle_is_reported_with_both_files_and_lines(self):
        failing, _ = self.check(CYCLE)
        report = "\n".join(failing)
        self.assertIn("cycle among 2 modules", report)
        self.assertIn("src/pipeline/validate.rs:2 -> src/pipeline/forward.rs", report)
        self.assertIn("src/pipeline/forward.rs:3 -> src/pipeline/validate.rs", report)
        # The low module and the parent that only declares the phases are not in the loop.
        self.assertNotIn("request.rs", report)
        self.assertNotIn("mod.rs", report)

    def test_allow_list_tolerates_a_known_cycle_but_not_a_larger_one(self):
        files = ["src/pipeline/validate.rs", "src/pipeline/forward.rs"]
        failing, tolerated = self.check(CYCLE, allowed=[files])
        self.assertEqual(failing, [])
        self.assertIn("allowed cycle among 2 modules", "\n".join(tolerated))
        failing, _ = self.check(CYCLE, allowed=[files[:1]])
        self.assertNotEqual(failing, [])

    def test_reexport_counts_as_an_edge_to_the_defining_module(self):
        files = dict(LAYERED)
        # request.rs now reaches a phase through the root's re-export: a loop via lib.rs's
        # `pub use`, which must land on pipeline/forward.rs, not on lib.rs.
        files["src/lib.rs"] += "pub(crate) use pipeline::Sender;\n"
        files["src/pipeline/mod.rs"] += "pub(crate) use forward::Sender;\n"
        files["src/pipeline/forward.rs"] += "pub(crate) struct Sender;\n"
        files["src/request.rs"] += "fn f(_: crate::Sender) {}\n"
        failing, _ = self.check(files)
        report = "\n".join(failing)
        self.assertIn("src/request.rs:5 -> src/pipeline/forward.rs", report)
        self.assertIn("src/pipeline/forward.rs:2,3 -> src/request.rs", report)

    def test_reexport_alone_is_not_an_edge(self):
        files = {
            "src/lib.rs": "mod sign;\npub use sign::sign;\npub const KEY: &str = \"k\";\n",
            "src/sign.rs": "use crate::KEY;\npub fn sign() -> &'static str { KEY }\n",
        }
        failing, _ = self.check(files)
        self.assertEqual(failing, [])
        # The root's own code calling what it re-exports does depend on it.
        files["src/lib.rs"] += "pub fn twice() { sign(); sign(); }\n"
        failing, _ = self.check(files)
        self.assertIn("src/lib.rs:2 -> src/sign.rs", "\n".join(failing))

    def test_inline_test_module_does_not_close_a_loop(self):
        files = {
            "src/lib.rs": """
                mod fixtures;
                pub struct Store;
                #[cfg(test)]
                mod tests {
                    use crate::fixtures::store;
                }
            """,
            "src/fixtures.rs": "use crate::Store;\npub fn store() -> Store { Store }\n",
        }
        failing, _ = self.check(files)
        self.assertEqual(failing, [])
        # The same import outside the test module is a loop.
        files["src/lib.rs"] += "fn f() { crate::fixtures::store(); }\n"
        failing, _ = self.check(files)
        self.assertIn("cycle among 2 modules", "\n".join(failing))

    def test_command_exit_status(self):
        for files, status in ((LAYERED, 0), (CYCLE, 1)):
            with tempfile.TemporaryDirectory() as root:
                write_tree(root, files)
                run = subprocess.run(
                    [sys.executable, SCRIPT, "src"], cwd=root, capture_output=True, text=True
                )
                self.assertEqual(run.returncode, status, run.stdout + run.stderr)


class UseTreeTest(unittest.TestCase):
    def test_groups_self_and_aliases(self):
        self.assertEqual(
            checker.expand_use_tree("crate::a::{b, c::{d as e, self}, *}"),
            [["crate", "a", "b"], ["crate", "a", "c", "d"], ["crate", "a", "c"], ["crate", "a"]],
        )


if __name__ == "__main__":
    unittest.main()
