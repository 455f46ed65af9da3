//! The listener under hostile or careless clients, over raw sockets: heads too large or
//! malformed, broken bodies, silent connections, too many connections, shutdown under
//! keep-alive, and the process's own limits.

use std::time::{Duration, Instant};

use http::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{
    Backend, JsonServer, Limits, Pylon, http_api, parse_raw, raw_request, read_reply,
};

async fn published(pylon: &Pylon, spec: serde_json::Value) -> String {
    let g = pylon.create_group("conn").await;
    let api = pylon.create_api(&g, spec).await;
    pylon.publish(&g, &api, "RELEASE").await;
    format!("{g}.{}", pylon.base_domain)
}

/// Whether the peer closes `stream` within `within` (reading and dropping anything sent).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read).await.is_ok()
}

#[tokio::test]
async fn errors_from_the_http_parser_carry_the_gateway_headers() {
    let pylon = Pylon::start_with(&["--max-header-size", "80KiB"], false).await;
    let backend = JsonServer::start("{}").await;
    let host = published(
        &pylon,
        http_api("j", "GET", "/j", &format!("http://{}", backend.addr), "/"),
    )
    .await;

    let reply = raw_request(pylon.gateway, b"GARBAGE\r\n\r\n").await;
    reply.assert_error(400, "Malformed Request");
    assert_eq!(reply.header("x-ca-error-code"), "R400MR");

    let reply = raw_request(
        pylon.gateway,
        b"GET /j HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n",
    )
    .await;
    reply.assert_error(400, "Malformed Request");

    // One 400 KiB header: refused by the gateway itself, never forwarded.
    let big = format!(
        "GET /j HTTP/1.1\r\nHost: {host}\r\nX-Big: {}\r\n\r\n",
        "a".repeat(400 * 1024)
    );
    let reply = raw_request(pylon.gateway, big.as_bytes()).await;
    reply.assert_error(431, "Request Header Fields Too Large");
    assert_eq!(backend.hits(), 0, "the backend never saw the head");

    // Just under the configured limit passes.
    let fits = format!(
        "GET /j HTTP/1.1\r\nHost: {host}\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(60 * 1024)
    );
    let reply = raw_request(pylon.gateway, fits.as_bytes()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(backend.hits(), 1);
}

#[tokio::test]
async fn a_uri_too_long_for_the_parser_is_a_gateway_414() {
    let pylon = Pylon::start_with(&["--max-header-size", "256KiB"], false).await;
    let request = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "u".repeat(70_000));
    let reply = raw_request(pylon.gateway, request.as_bytes()).await;
    reply.assert_error(414, "Request URI Too Long");
}

#[tokio::test]
async fn a_broken_chunked_body_is_the_clients_error() {
    let pylon = Pylon::start_with(&[], true).await;
    let backend = Backend::start("b").await;
    let host = published(&pylon, http_api("up", "POST", "/up", &backend.url(), "/in")).await;
    let request = format!(
        "POST /up HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\
         Content-Type: text/plain\r\n\r\n5\r\nhello\r\nzz\r\nnot a chunk\r\n"
    );
    let reply = raw_request(pylon.gateway, request.as_bytes()).await;
    reply.assert_error(400, "Invalid Request Body");
    assert_eq!(reply.header("x-ca-error-code"), "P400RB");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = pylon.log();
    assert!(log.contains("the client's request body is broken"), "{log}");
    assert!(
        !log.contains("backend call to"),
        "the backend is not blamed: {log}"
    );
}

#[tokio::test]
async fn a_refused_body_is_drained_so_the_client_reads_the_413() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let mut spec = http_api("form", "POST", "/form", &backend.url(), "/in");
    spec["parameters"] = json!([{"name": "q", "location": "form"}]);
    let host = published(&pylon, spec).await;
    let body = vec![b'a'; 9 * 1024 * 1024];
    // Declared too large (refused before reading), and undeclared (refused while reading).
    for framing in ["declared", "chunked"] {
        let mut request = format!(
            "POST /form HTTP/1.1\r\nHost: {host}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n"
        )
        .into_bytes();
        if framing == "declared" {
            request.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            request.extend_from_slice(&body);
        } else {
            request.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for chunk in body.chunks(64 * 1024) {
                request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                request.extend_from_slice(chunk);
                request.extend_from_slice(b"\r\n");
            }
            request.extend_from_slice(b"0\r\n\r\n");
        }
        // raw_request writes everything before it reads.
        let reply = raw_request(pylon.gateway, &request).await;
        reply.assert_error(413, "Request Body Too Large");
    }
}

#[tokio::test]
async fn silent_and_slow_connections_are_closed_from_accept() {
    let pylon = Pylon::start_with(&["--header-timeout", "1s"], false).await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(pylon.gateway).await.unwrap();
    let mut partial = TcpStream::connect(pylon.gateway).await.unwrap();
    partial
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(5)).await,
        "silent"
    );
    assert!(
        closed_within(&mut partial, Duration::from_secs(5)).await,
        "partial head"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
}

#[tokio::test]
async fn a_slow_head_after_a_served_request_is_cut_at_the_header_timeout() {
    // The idle timeout is far longer: only the header timeout can close it in time.
    let pylon =
        Pylon::start_with(&["--header-timeout", "1s", "--idle-timeout", "60s"], false).await;
    let backend = Backend::start("b").await;
    let host = published(&pylon, http_api("s", "GET", "/s", &backend.url(), "/")).await;
    let mut stream = TcpStream::connect(pylon.gateway).await.unwrap();
    let request = format!("GET /s HTTP/1.1\r\nHost: {host}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(read_reply(&mut stream).await.status, 200);
    // Kept alive and idle well past the header timeout: an idle connection is not cut.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    stream.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(read_reply(&mut stream).await.status, 200);
    // Now a head that never ends.
    let started = Instant::now();
    stream
        .write_all(format!("GET /s HTTP/1.1\r\nHost: {host}\r\n").as_bytes())
        .await
        .unwrap();
    assert!(
        closed_within(&mut stream, Duration::from_secs(5)).await,
        "partial second head"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
}

#[tokio::test]
async fn the_connection_cap_closes_the_oldest_idle_connection_first() {
    let pylon = Pylon::start_with(&["--max-connections", "3"], false).await;
    let backend = Backend::start("b").await;
    let host = published(&pylon, http_api("s", "GET", "/s", &backend.url(), "/")).await;
    let mut oldest = TcpStream::connect(pylon.gateway).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut second = TcpStream::connect(pylon.gateway).await.unwrap();
    let mut third = TcpStream::connect(pylon.gateway).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let request = format!("GET /s HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let reply = raw_request(pylon.gateway, request.as_bytes()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        closed_within(&mut oldest, Duration::from_secs(3)).await,
        "oldest shed"
    );
    assert!(!closed_within(&mut second, Duration::from_millis(300)).await);
    assert!(!closed_within(&mut third, Duration::from_millis(300)).await);
}

#[tokio::test]
async fn past_the_cap_with_nothing_idle_a_newcomer_gets_a_503() {
    let pylon = Pylon::start_with(&["--max-connections", "2"], false).await;
    let backend = Backend::start("b").await;
    let host = published(
        &pylon,
        http_api("s", "GET", "/slow", &backend.url(), "/slow"),
    )
    .await;
    let slow = format!("GET /slow?ms=3000 HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(pylon.gateway).await.unwrap();
        s.write_all(slow.as_bytes()).await.unwrap();
        busy.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = raw_request(pylon.gateway, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").await;
    reply.assert_error(503, "Service Unavailable");
    // The busy ones were not cut off.
    for mut s in busy {
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
        let reply = parse_raw(&buf).expect("the busy connection got its answer");
        assert_eq!(reply.status, 200);
    }
}

#[tokio::test]
async fn the_soft_open_file_limit_is_raised_to_the_hard_one() {
    let pylon = Pylon::start_limited(
        &[],
        false,
        Limits {
            open_files: Some((256, 4096)),
            ..Limits::default()
        },
    )
    .await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", pylon.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers, ["4096", "4096"], "{line}");
}

#[tokio::test]
async fn running_out_of_descriptors_is_logged_once_and_survived() {
    // The cap is set above what the descriptors allow, so accept itself fails.
    let pylon = Pylon::start_limited(
        &["--max-connections", "10000"],
        true,
        Limits {
            open_files: Some((96, 96)),
            ..Limits::default()
        },
    )
    .await;
    let backend = Backend::start("b").await;
    let host = published(&pylon, http_api("s", "GET", "/s", &backend.url(), "/")).await;
    let mut flood = Vec::new();
    for _ in 0..200 {
        if let Ok(s) = TcpStream::connect(pylon.gateway).await {
            flood.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let logged = pylon.log().matches("accept failed").count();
    assert!(logged >= 1, "the failure is logged");
    assert!(
        logged <= 4,
        "once per interval per worker, not per failure: {logged}"
    );
    drop(flood);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let request = format!("GET /s HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let reply = raw_request(pylon.gateway, request.as_bytes()).await;
    assert_eq!(reply.status, 200, "serving again: {}", reply.text());
}

#[tokio::test]
async fn shutdown_answers_requests_sent_on_open_connections() {
    let mut pylon = Pylon::start_with(&["--shutdown-grace", "2s"], false).await;
    let backend = Backend::start("b").await;
    let host = published(&pylon, http_api("s", "GET", "/s", &backend.url(), "/")).await;
    let request = format!("GET /s HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let mut conns = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(pylon.gateway).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let reply = read_reply(&mut s).await;
        assert_eq!(reply.status, 200);
        conns.push(s);
    }
    pylon.signal("TERM").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    for s in &mut conns {
        s.write_all(request.as_bytes()).await.unwrap();
        let reply = read_reply(s).await;
        assert_eq!(reply.status, 200, "answered after SIGTERM");
        assert_eq!(reply.header("connection"), "close");
        assert!(closed_within(s, Duration::from_secs(2)).await);
    }
    assert!(pylon.stop().await.success());
}

#[tokio::test]
async fn a_second_server_on_the_same_data_directory_refuses_to_start() {
    let pylon = Pylon::start().await;
    let output = crate::harness::serve_command(&pylon.data_dir)
        .env("PYLON_ADMIN_TOKEN", crate::harness::TOKEN)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use by another pylon serve"), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", pylon.pid())), "{stderr}");
    // The first one is unaffected.
    let (status, _) = pylon.admin(Method::GET, "/v1/groups", None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn sighup_rereads_the_config_file_and_never_kills_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pylon.yaml");
    std::fs::write(&config, "header_timeout: 30s\n").unwrap();
    let config_arg = config.to_str().unwrap().to_string();
    let pylon = Pylon::start_with(&["--config", &config_arg], true).await;
    let hup = || async {
        pylon.signal("HUP").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // A silent connection outlives a few seconds under the 30 s timeout...
    hup().await;
    let (status, _) = pylon.admin(Method::GET, "/v1/groups", None).await;
    assert_eq!(status, 200, "alive after SIGHUP");

    // ...and the new timeout applies once the file says so.
    std::fs::write(&config, "header_timeout: 1s\n").unwrap();
    hup().await;
    let mut silent = TcpStream::connect(pylon.gateway).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await);
    assert!(pylon.log().contains("listener limits applied"));

    // A broken file changes nothing and is reported.
    std::fs::write(&config, "header_timeout: [\n").unwrap();
    hup().await;
    assert!(pylon.log().contains("kept the running configuration"));
    let (status, _) = pylon.admin(Method::GET, "/v1/groups", None).await;
    assert_eq!(status, 200, "alive after a broken config");
}

#[tokio::test]
async fn conflicting_body_framing_cannot_smuggle_a_request_to_the_backend() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let host = published(&pylon, http_api("up", "ANY", "/up", &backend.url(), "/in")).await;
    // Content-Length says 4, chunked framing says 5 bytes then a second request.
    let request = format!(
        "POST /up HTTP/1.1\r\nHost: {host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nhello\r\n0\r\n\r\nGET /up/smuggled HTTP/1.1\r\nHost: {host}\r\n\r\n"
    );
    let mut stream = TcpStream::connect(pylon.gateway).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let reply = read_reply(&mut stream).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let echo: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(echo["body"], "hello", "the chunked framing wins: {echo}");
    assert!(
        echo["headers"]
            .get("content-length")
            .is_none_or(|v| v == "5"),
        "{echo}"
    );
    assert_eq!(reply.header("connection"), "close");
    assert!(closed_within(&mut stream, Duration::from_secs(2)).await);

    // Framing the gateway cannot trust is refused, with the gateway's headers.
    for bad in [
        "Transfer-Encoding: identity\r\n",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: -1\r\n",
    ] {
        let request = format!("POST /up HTTP/1.1\r\nHost: {host}\r\n{bad}\r\nhello");
        raw_request(pylon.gateway, request.as_bytes())
            .await
            .assert_error(400, "Malformed Request");
    }
}

#[tokio::test]
async fn client_values_cannot_forge_fields_of_the_access_log() {
    let pylon = Pylon::start_with(&[], true).await;
    let forged = r#"evil" status=200 api="admin"#;
    let request = format!("GET /x HTTP/1.1\r\nHost: {forged}\r\nConnection: close\r\n\r\n");
    raw_request(pylon.gateway, request.as_bytes())
        .await
        .assert_error(400, "Invalid Domain");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = pylon.log();
    let line = log
        .lines()
        .find(|l| l.contains("no group serves host"))
        .unwrap_or_else(|| panic!("no access line: {log}"));
    assert!(
        line.contains(r#"evil\" status=200 api=\"admin"#),
        "quoted and escaped: {line}"
    );
    assert!(
        line.ends_with(r#"error="no group serves host `evil\" status=200 api=\"admin`""#),
        "the forged text stays inside one quoted field: {line}"
    );
    // The JSON access line: the forged Host is one string value.
    let stdout = pylon.stdout();
    let line: serde_json::Value = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("no JSON access line: {stdout}"));
    assert_eq!(line["host"], forged, "{line}");
    assert_eq!(line["status"], 400, "{line}");
    assert!(line["api"].is_null(), "{line}");
}
