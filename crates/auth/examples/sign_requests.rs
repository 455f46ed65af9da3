//! Precomputes Alibaba APP-signed `GET` requests for the bench's load generator
//! (`bench/app-sign.lua`): wrk cannot compute HMAC-SHA256 cheaply, so the signatures are made
//! here, before the measured run, and wrk only splices them into its requests.
//!
//! ```text
//! sign_requests --key K --secret S --host H --path /bench --count N --files T --out PATH [--nonce]
//! ```
//!
//! Writes `PATH.0` .. `PATH.<T-1>` (one per wrk thread), `N` requests split evenly between
//! them. Each file starts with one line `# x-ca-signature-headers: <list>` (the list every
//! request in it signs), then one request per line: `<timestamp> <signature>`, or with
//! `--nonce` `<timestamp> <nonce> <signature>`, each nonce distinct across all the files (a
//! random UUID-shaped string, 36 characters like the official SDKs' `uuid.v4()`).
//!
//! The requests are the ones `bench/app-sign.lua` sends: `Host`, `Accept: application/json`,
//! `X-Ca-Key`, `X-Ca-Timestamp`, (`X-Ca-Nonce`,) `X-Ca-Signature-Method: HmacSHA256`,
//! `X-Ca-Signature-Headers` and `X-Ca-Signature`, no body. With `--nonce` they are signed by
//! [`alibaba::sign_request`], the client signer (as the Node SDK signs); without, the same
//! string to sign minus the nonce (Alibaba makes `X-Ca-Nonce` optional). Timestamps are now,
//! so the requests pass the gateway's 15-minute clock window for the next 15 minutes.
//!
//! The first request is checked with the gateway's own server-side functions before anything
//! is written.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method};
use pylon_auth::alibaba::{self, SignatureMethod};

struct Args {
    key: String,
    secret: String,
    host: String,
    path: String,
    count: usize,
    files: usize,
    out: String,
    nonce: bool,
}

const USAGE: &str = "usage: sign_requests --key K --secret S --host H --path /bench \
                     --count N --files T --out PATH [--nonce]";

fn parse_args() -> Result<Args, String> {
    let mut key = None;
    let mut secret = None;
    let mut host = None;
    let mut path = None;
    let mut count = None;
    let mut files = 1usize;
    let mut out = None;
    let mut nonce = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--key" => key = Some(value()?),
            "--secret" => secret = Some(value()?),
            "--host" => host = Some(value()?),
            "--path" => path = Some(value()?),
            "--count" => count = Some(value()?.parse().map_err(|e| format!("--count: {e}"))?),
            "--files" => files = value()?.parse().map_err(|e| format!("--files: {e}"))?,
            "--out" => out = Some(value()?),
            "--nonce" => nonce = true,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    let need = |v: Option<String>, name: &str| v.ok_or_else(|| format!("missing {name}"));
    let args = Args {
        key: need(key, "--key")?,
        secret: need(secret, "--secret")?,
        host: need(host, "--host")?,
        path: need(path, "--path")?,
        count: count.ok_or("missing --count")?,
        files,
        out: need(out, "--out")?,
        nonce,
    };
    if args.files == 0 || args.count < args.files {
        return Err("--count must be at least --files, and --files at least 1".into());
    }
    if !args.path.starts_with('/') || args.path.contains('?') {
        return Err("--path must start with / and carry no query".into());
    }
    Ok(args)
}

/// UUID-shaped (8-4-4-4-12 hex) strings, distinct for distinct `i` (splitmix64 of a random
/// seed plus the counter is a bijection of the counter): cheap, and long like the SDKs' nonces.
struct Nonces {
    seed: u64,
    seed2: u64,
}

impl Nonces {
    fn new() -> Nonces {
        let s = RandomState::new();
        Nonces {
            seed: s.hash_one(1u8),
            seed2: s.hash_one(2u8),
        }
    }

    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    fn get(&self, i: u64, out: &mut String) {
        let a = Self::mix(self.seed.wrapping_add(i.wrapping_mul(0x9e3779b97f4a7c15)));
        let b = Self::mix(self.seed2 ^ a);
        out.clear();
        let _ = write!(
            out,
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        );
    }
}

/// The headers the Lua script sends, minus the signature ones (which the signer adds).
fn base_headers(args: &Args, ts: i64, nonce: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_str(&args.host).expect("host"));
    h.insert("accept", HeaderValue::from_static("application/json"));
    h.insert("x-ca-key", HeaderValue::from_str(&args.key).expect("key"));
    h.insert("x-ca-timestamp", HeaderValue::from(ts));
    if let Some(n) = nonce {
        h.insert("x-ca-nonce", HeaderValue::from_str(n).expect("nonce"));
    }
    h
}

/// Signs without a nonce: what `sign_request` does, for a request that carries none.
fn sign_without_nonce(args: &Args, h: &mut HeaderMap) {
    let signed = ["x-ca-key", "x-ca-timestamp"];
    let sts = alibaba::string_to_sign(&Method::GET, &args.path, None, None, h, &signed);
    let sig = alibaba::sign(args.secret.as_bytes(), SignatureMethod::HmacSha256, &sts);
    h.insert(
        "x-ca-signature-headers",
        HeaderValue::from_static("x-ca-key,x-ca-timestamp"),
    );
    h.insert(
        "x-ca-signature-method",
        HeaderValue::from_static("HmacSHA256"),
    );
    h.insert("x-ca-signature", HeaderValue::from_str(&sig).expect("sig"));
}

fn sign(args: &Args, ts: i64, nonce: Option<&str>) -> HeaderMap {
    let mut h = base_headers(args, ts, nonce);
    match nonce {
        Some(n) => alibaba::sign_request(
            &Method::GET,
            &args.path,
            None,
            &mut h,
            b"",
            &args.key,
            &args.secret,
            ts,
            n,
        )
        .expect("header values"),
        None => sign_without_nonce(args, &mut h),
    }
    h
}

/// What the gateway does with the request (`pipeline/authenticate.rs`), minus the key lookup.
fn check(args: &Args, h: &HeaderMap, now: i64) -> Result<(), String> {
    let c = alibaba::credentials(h)
        .map_err(|e| e.to_string())?
        .ok_or("no credentials")?;
    alibaba::check_timestamp(c.timestamp, now).map_err(|e| e.to_string())?;
    let sts = alibaba::string_to_sign(&Method::GET, &args.path, None, None, h, &c.signed_headers);
    if !alibaba::verify(&alibaba::SigningKey::new(args.secret.as_bytes()), &c, &sts) {
        return Err(alibaba::invalid_signature_message(&sts));
    }
    Ok(())
}

fn value<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn run(args: &Args) -> Result<(), String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as i64;
    let nonces = Nonces::new();
    let mut nonce = String::with_capacity(36);
    let per_file = args.count / args.files;
    let mut i = 0u64;
    for f in 0..args.files {
        let path = format!("{}.{f}", args.out);
        let file = std::fs::File::create(&path).map_err(|e| format!("{path}: {e}"))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let n = if f + 1 == args.files {
            args.count - per_file * (args.files - 1)
        } else {
            per_file
        };
        for j in 0..n {
            // Timestamps a millisecond apart, like a client's clock over a few requests; the
            // gateway accepts them all (at most N ms from now).
            let ts = now - i as i64 % 1000;
            let h = if args.nonce {
                nonces.get(i, &mut nonce);
                sign(args, ts, Some(&nonce))
            } else {
                sign(args, ts, None)
            };
            if i == 0 {
                check(args, &h, now).map_err(|e| format!("self-check failed: {e}"))?;
            }
            let io = |e: std::io::Error| format!("{path}: {e}");
            if j == 0 {
                writeln!(
                    w,
                    "# x-ca-signature-headers: {}",
                    value(&h, "x-ca-signature-headers")
                )
                .map_err(io)?;
            }
            if args.nonce {
                writeln!(
                    w,
                    "{} {} {}",
                    ts,
                    value(&h, "x-ca-nonce"),
                    value(&h, "x-ca-signature")
                )
            } else {
                writeln!(w, "{} {}", ts, value(&h, "x-ca-signature"))
            }
            .map_err(io)?;
            i += 1;
        }
        w.flush().map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sign_requests: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sign_requests: {e}");
            ExitCode::FAILURE
        }
    }
}
