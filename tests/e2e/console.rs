//! The web console in a real browser: `tests/console/console.test.mjs` under `node --test`,
//! driving Debian's chromium with playwright-core against this build's `pylon` binary.
//! `tests/console/install.sh` installs playwright-core from the committed lock (and fails,
//! naming the package, when chromium is missing: `.ci/run` installs it). The tutorial test
//! calls the API it defined with Alibaba's official Node SDK, from the real clients' install.

use std::collections::BTreeMap;
use std::process::Command;

const CONSOLE_TESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/console");

#[test]
fn the_console_works_in_a_real_browser() {
    let install = Command::new("bash")
        .arg(format!("{CONSOLE_TESTS}/install.sh"))
        .output()
        .expect("bash runs tests/console/install.sh");
    let stdout = String::from_utf8_lossy(&install.stdout);
    assert!(
        install.status.success(),
        "tests/console/install.sh failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let paths: BTreeMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('=')).collect();
    let screenshots = concat!(env!("CARGO_TARGET_TMPDIR"), "/console-screenshots");
    // Two certificates to upload and renew: the second's key does not match the first chain.
    let ca = crate::tls::TestCa::new();
    let (cert_1, key_1) = ca.leaf(&["shop.console.test"]);
    let (cert_2, key_2) = ca.leaf(&["shop.console.test", "www.console.test"]);
    let run = Command::new("node")
        .args(["--test", "--test-concurrency=1"])
        .arg(format!("{CONSOLE_TESTS}/console.test.mjs"))
        .env("PYLON_BIN", env!("CARGO_BIN_EXE_pylon"))
        .env("CONSOLE_NODE_MODULES", paths["node_modules"])
        .env("CHROMIUM", paths["chromium"])
        .env("CONSOLE_SCREENSHOTS", screenshots)
        .env("CONSOLE_CERT_1", cert_1)
        .env("CONSOLE_KEY_1", key_1)
        .env("CONSOLE_CERT_2", cert_2)
        .env("CONSOLE_KEY_2", key_2)
        .env(
            "CLIENTS_NODE_MODULES",
            crate::real_clients::installed().node_modules(),
        )
        .output()
        .expect("node runs the console tests");
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the console's browser tests failed:\n{report}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // node --test's summary: every test ran and passed, none was skipped.
    assert!(report.contains("# fail 0"), "{report}");
    assert!(report.contains("# skipped 0"), "{report}");
    assert!(!report.contains("# pass 0\n"), "{report}");
}
