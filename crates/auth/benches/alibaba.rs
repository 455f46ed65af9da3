//! What verifying one Alibaba APP signature costs the gateway: the request `bench/run.sh`'s
//! `pylon-app` target sends (`GET /bench`, HmacSHA256, a timestamp and three signed `X-Ca-*`
//! headers), taken through every server-side step, and the same with a query and a form.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use pylon_auth::alibaba::{
    SigningKey, check_timestamp, credentials, sign_request, string_to_sign, verify,
};

const SECRET: &str = "bench-app-secret-0123456789abcdef";
const NOW_MS: i64 = 1_790_000_000_000;

fn signed(
    method: &Method,
    query: Option<&str>,
    body: &[u8],
    content_type: Option<&'static str>,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "host",
        HeaderValue::from_static("0123456789abcdef.localhost"),
    );
    headers.insert("user-agent", HeaderValue::from_static("wrk"));
    if let Some(ct) = content_type {
        headers.insert("content-type", HeaderValue::from_static(ct));
    }
    let ok = sign_request(
        method,
        "/bench",
        query,
        &mut headers,
        body,
        "203779871",
        SECRET,
        NOW_MS,
        "",
    );
    assert!(ok.is_ok());
    headers.remove("x-ca-nonce");
    headers
}

/// Every step the gateway's authenticate phase runs for a signed request.
fn authenticate(
    key: &SigningKey,
    method: &Method,
    query: Option<&str>,
    form: Option<&str>,
    headers: &HeaderMap,
) -> bool {
    let Ok(Some(c)) = credentials(headers) else {
        return false;
    };
    if check_timestamp(c.timestamp, NOW_MS).is_err() {
        return false;
    }
    let sts = string_to_sign(method, "/bench", query, form, headers, &c.signed_headers);
    verify(key, &c, &sts)
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::new(SECRET.as_bytes());
    let get = signed(&Method::GET, None, b"", None);
    assert!(authenticate(&key, &Method::GET, None, None, &get));
    c.bench_function("alibaba/verify GET (bench/run.sh's request)", |b| {
        b.iter(|| authenticate(&key, &Method::GET, None, None, black_box(&get)))
    });

    let query = Some("b=2&a=1&name=J%C3%B6rg&empty=&page=3");
    let get_query = signed(&Method::GET, query, b"", None);
    assert!(authenticate(&key, &Method::GET, query, None, &get_query));
    c.bench_function("alibaba/verify GET with 5 query parameters", |b| {
        b.iter(|| authenticate(&key, &Method::GET, query, None, black_box(&get_query)))
    });

    let form = "user=alice&amount=100&note=hello+world";
    let post = signed(
        &Method::POST,
        None,
        form.as_bytes(),
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
    );
    assert!(authenticate(&key, &Method::POST, None, Some(form), &post));
    c.bench_function("alibaba/verify form POST", |b| {
        b.iter(|| authenticate(&key, &Method::POST, None, Some(form), black_box(&post)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
