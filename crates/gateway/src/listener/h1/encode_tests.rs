use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{HeaderValue, Response, StatusCode, Version};

use super::*;

const GET11: Asked = Asked {
    head: false,
    version: Version::HTTP_11,
    keep_alive: true,
};

fn encode(response: Response<()>, body: Length, asked: Asked) -> (String, Framing) {
    let (parts, ()) = response.into_parts();
    let mut out = Vec::new();
    let framing = head(
        &mut out,
        parts.status,
        &Fields::from(parts.headers),
        body,
        asked,
    );
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with("\r\n\r\n"), "{text}");
    (text, framing)
}

fn lines(text: &str) -> Vec<&str> {
    text.trim_end()
        .split("\r\n")
        .filter(|l| !l.starts_with("date: "))
        .collect()
}

#[test]
fn a_known_length_is_written_and_a_date_added() {
    let response = Response::builder()
        .header("x-ca-request-id", "abc")
        .body(())
        .unwrap();
    let (text, framing) = encode(response, Length::Known(12), GET11);
    assert_eq!(
        lines(&text),
        [
            "HTTP/1.1 200 OK",
            "x-ca-request-id: abc",
            "content-length: 12"
        ]
    );
    assert!(text.contains("\r\ndate: "), "{text}");
    assert_eq!(
        framing,
        Framing {
            encoder: Encoder::Length(12),
            last: false
        }
    );
}

#[test]
fn the_responses_own_length_and_date_are_kept() {
    let response = Response::builder()
        .status(404)
        .header(CONTENT_LENGTH, "7")
        .header(DATE, "Tue, 01 Dec 2026 03:00:00 GMT")
        .body(())
        .unwrap();
    let (text, framing) = encode(response, Length::Unknown, GET11);
    assert_eq!(
        text,
        "HTTP/1.1 404 Not Found\r\ncontent-length: 7\r\ndate: Tue, 01 Dec 2026 03:00:00 GMT\r\n\r\n"
    );
    assert_eq!(framing.encoder, Encoder::Length(7));
}

#[test]
fn an_unknown_length_is_chunked_and_to_http_1_0_ends_with_the_connection() {
    let (text, framing) = encode(Response::new(()), Length::Unknown, GET11);
    assert_eq!(
        lines(&text),
        ["HTTP/1.1 200 OK", "transfer-encoding: chunked"]
    );
    assert_eq!(framing.encoder, Encoder::Chunked);
    assert!(!framing.last);
    let old = Asked {
        version: Version::HTTP_10,
        ..GET11
    };
    let (text, framing) = encode(Response::new(()), Length::Unknown, old);
    assert_eq!(lines(&text), ["HTTP/1.0 200 OK", "connection: keep-alive"]);
    assert_eq!(
        framing,
        Framing {
            encoder: Encoder::CloseDelimited,
            last: true
        }
    );
}

#[test]
fn an_http_1_0_client_is_told_the_connection_stays_open_only_when_it_asked() {
    let asked = Asked {
        version: Version::HTTP_10,
        keep_alive: false,
        ..GET11
    };
    let (text, framing) = encode(Response::new(()), Length::Known(2), asked);
    assert_eq!(lines(&text), ["HTTP/1.0 200 OK", "content-length: 2"]);
    assert!(framing.last);
    let asked = Asked {
        keep_alive: true,
        ..asked
    };
    let (text, framing) = encode(Response::new(()), Length::Known(2), asked);
    assert_eq!(
        lines(&text),
        [
            "HTTP/1.0 200 OK",
            "connection: keep-alive",
            "content-length: 2"
        ]
    );
    assert!(!framing.last);
}

#[test]
fn connection_close_in_the_response_ends_the_connection() {
    let response = Response::builder()
        .header(CONNECTION, "Keep-Alive, Close")
        .body(())
        .unwrap();
    let (_, framing) = encode(response, Length::Known(1), GET11);
    assert!(framing.last);
    let asked = Asked {
        keep_alive: false,
        ..GET11
    };
    let (text, framing) = encode(Response::new(()), Length::Known(1), asked);
    assert!(framing.last);
    assert!(!text.contains("connection"), "as hyper: no header added");
}

#[test]
fn head_204_and_304_carry_no_body() {
    let head = Asked {
        head: true,
        ..GET11
    };
    let (text, framing) = encode(Response::new(()), Length::Known(40), head);
    assert_eq!(lines(&text), ["HTTP/1.1 200 OK", "content-length: 40"]);
    assert_eq!(framing.encoder, Encoder::Length(0));
    let with_length = Response::builder()
        .header(CONTENT_LENGTH, "40")
        .body(())
        .unwrap();
    let (text, _) = encode(with_length, Length::None, head);
    assert_eq!(lines(&text), ["HTTP/1.1 200 OK", "content-length: 40"]);
    let (text, _) = encode(Response::new(()), Length::None, head);
    assert_eq!(lines(&text), ["HTTP/1.1 200 OK"]);
    for status in [StatusCode::NO_CONTENT, StatusCode::NOT_MODIFIED] {
        let response = Response::builder().status(status).body(()).unwrap();
        let (text, framing) = encode(response, Length::Unknown, GET11);
        assert_eq!(lines(&text).len(), 1, "{text}");
        assert_eq!(framing.encoder, Encoder::Length(0));
    }
}

#[test]
fn an_empty_body_gets_a_zero_length_unless_the_length_field_says_otherwise() {
    let (text, framing) = encode(Response::new(()), Length::None, GET11);
    assert_eq!(lines(&text), ["HTTP/1.1 200 OK", "content-length: 0"]);
    assert_eq!(framing.encoder, Encoder::Length(0));
    // A length field with no body to back it is dropped, as hyper does.
    let stale = Response::builder()
        .header(CONTENT_LENGTH, "9")
        .body(())
        .unwrap();
    let (text, _) = encode(stale, Length::None, GET11);
    assert_eq!(lines(&text), ["HTTP/1.1 200 OK", "content-length: 0"]);
}

#[test]
fn a_transfer_encoding_ends_with_chunked() {
    let response = Response::builder()
        .header(TRANSFER_ENCODING, HeaderValue::from_static("gzip"))
        .body(())
        .unwrap();
    let (text, framing) = encode(response, Length::Unknown, GET11);
    assert_eq!(
        lines(&text),
        ["HTTP/1.1 200 OK", "transfer-encoding: gzip, chunked"]
    );
    assert_eq!(framing.encoder, Encoder::Chunked);
}

#[test]
fn reasons_are_canonical_and_chunk_sizes_hex() {
    let response = Response::builder().status(503).body(()).unwrap();
    let (text, _) = encode(response, Length::Known(0), GET11);
    assert!(
        text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{text}"
    );
    let response = Response::builder().status(599).body(()).unwrap();
    let (text, _) = encode(response, Length::Known(0), GET11);
    assert!(text.starts_with("HTTP/1.1 599 <none>\r\n"), "{text}");
    let mut out = Vec::new();
    chunk_start(&mut out, 0x1f40);
    chunk_start(&mut out, 0);
    assert_eq!(out, b"1f40\r\n0\r\n");
}

#[test]
fn the_date_is_an_http_date() {
    let mut cached = CachedDate::default();
    let text = String::from_utf8(cached.now().to_vec()).unwrap();
    assert_eq!(text.len(), 29, "{text}");
    assert!(httpdate::parse_http_date(&text).is_ok(), "{text}");
}
