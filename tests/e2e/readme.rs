//! Runs the README's quick start, word for word, with free ports put in place of the defaults.

use std::process::Stdio;

/// The ```sh blocks of the sections headed `## Quick start...`, in order.
fn quick_start_script(readme: &str) -> String {
    let sections: Vec<&str> = readme
        .split("\n## ")
        .filter(|s| s.starts_with("Quick start"))
        .collect();
    assert_eq!(sections.len(), 2, "README has a quick start in two parts");
    let mut script = String::new();
    let mut in_block = false;
    for line in sections.iter().flat_map(|s| s.lines()) {
        match (in_block, line.trim_end()) {
            (false, "```sh") => in_block = true,
            (true, "```") => in_block = false,
            (true, l) => {
                script.push_str(l);
                script.push('\n');
            }
            _ => {}
        }
    }
    script
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn readme_quick_start() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let (gateway, admin, files, https) = (free_port(), free_port(), free_port(), free_port());
    let script = quick_start_script(&readme)
        .replace(":8080", &format!(":{gateway}"))
        .replace("0.0.0.0:8443", &format!("127.0.0.1:{https}"))
        .replace(":8443", &format!(":{https}"))
        .replace("http.server 8000", &format!("http.server {files}"))
        .replace("127.0.0.1:8000", &format!("127.0.0.1:{files}"));
    assert!(script.contains("pylon serve --tls-listen"), "{script}");
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_pylon"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let wrapped = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\nset -x\n{script}"
    );
    let run = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&wrapped)
        .current_dir(dir.path())
        .env("PATH", path)
        .env("PYLON_LISTEN", format!("127.0.0.1:{gateway}"))
        .env("PYLON_ADMIN_LISTEN", format!("127.0.0.1:{admin}"))
        .env("PYLON_STATUS_LISTEN", "127.0.0.1:0")
        .env("PYLON_ADMIN_URL", format!("http://127.0.0.1:{admin}"))
        .env("PYLON_LOG", "warn")
        .env_remove("PYLON_ADMIN_TOKEN")
        .env_remove("PYLON_DATA_DIR")
        .stdin(Stdio::null())
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("quick start finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "quick start failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Before publishing, the API is not served; after, the private backend answers through Pylon.
    assert!(stdout.contains("API Not Found"), "{stdout}");
    assert!(
        stdout.contains("description: Static files of the shop"),
        "{stdout}"
    );
    // The certificate is listed, then the file comes over HTTPS (curl verified the chain).
    // (The gateway's access log shares the terminal: its JSON lines are skipped.)
    let after_certificate: Vec<&str> = stdout
        .split("shop-tls")
        .nth(1)
        .unwrap_or("")
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("{\"time\""))
        .take(2)
        .collect();
    assert_eq!(
        after_certificate,
        ["name: files", "description: Static files of the shop"],
        "{stdout}"
    );
    // Two versions, and the rollback made version 1 active again.
    assert!(stdout.contains("longer timeout"), "{stdout}");
    let after_v2 = stdout.rsplit("longer timeout").next().unwrap_or("");
    assert!(
        after_v2.lines().any(|l| l.starts_with("1 ")
            && l.contains("RELEASE")
            && l.contains("true")
            && l.contains("first release")),
        "{stdout}"
    );
    assert!(dir.path().join("pylon-data/admin-token").exists());
    // Part two: unsigned calls are refused; the official Node SDK's signed call gets the file.
    assert!(stdout.contains("Invalid AppKey"), "{stdout}");
    let after_sdk = stdout.rsplit("Invalid AppKey").next().unwrap_or("");
    assert!(
        after_sdk.contains("name: files"),
        "the SDK call printed the file: {stdout}"
    );
}
