//! What every console page shares: the signed-in request (the session its cookie names),
//! rendering a template, and the error page.

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{HeaderName, HeaderValue, StatusCode};

use crate::AppState;
use crate::auth::constant_time_eq;

/// A request from a signed-in browser: the session its cookie names.
pub(crate) struct SignedIn {
    pub(crate) id: String,
    pub(crate) csrf: String,
}

impl SignedIn {
    /// The refusal of a submitted form that does not carry this session's CSRF token.
    pub(crate) fn refuse_without_csrf(&self, presented: &str) -> Option<Response> {
        if constant_time_eq(presented.as_bytes(), self.csrf.as_bytes()) {
            return None;
        }
        Some(error_page(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form was not sent by this console session (its CSRF token is missing or \
             wrong). Reload the page and try again.",
            Some(self.csrf.clone()),
        ))
    }
}

const HX_REQUEST: HeaderName = HeaderName::from_static("hx-request");
const HX_REDIRECT: HeaderName = HeaderName::from_static("hx-redirect");

impl FromRequestParts<AppState> for SignedIn {
    /// To the sign-in page: a full redirect, or htmx's own for a partial request.
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        match s.sessions.find(&parts.headers) {
            Some((id, session)) => Ok(SignedIn {
                id,
                csrf: session.csrf,
            }),
            None if parts.headers.contains_key(HX_REQUEST) => Err((
                StatusCode::UNAUTHORIZED,
                [(HX_REDIRECT, HeaderValue::from_static("/console/login"))],
            )
                .into_response()),
            None => Err(Redirect::to("/console/login").into_response()),
        }
    }
}

/// A rendered template, or the error page when rendering fails.
pub(crate) fn render<T: askama::Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
                .into_response()
        }
    }
}

/// A form posted by a signed-in browser, carrying its session's CSRF token (`_csrf`). A request
/// without a session goes to the sign-in page, and one without the token is refused, before
/// the handler runs; the handler sees only its own fields.
pub(crate) struct Posted<T> {
    pub(crate) signed: SignedIn,
    pub(crate) form: T,
}

/// A form with no fields of its own: a sign-out, a confirmed delete.
#[derive(serde::Deserialize)]
pub(crate) struct Confirmed {}

#[derive(serde::Deserialize)]
struct Token {
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let signed = SignedIn::from_request_parts(&mut parts, s).await?;
        let bad = |why: String| {
            error_page(
                StatusCode::BAD_REQUEST,
                "Refused",
                &format!("This form could not be read: {why}"),
                Some(signed.csrf.clone()),
            )
        };
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(bytes) => bytes,
            Err(e) => return Err(bad(e.to_string())),
        };
        let token: Token = serde_urlencoded::from_bytes(&bytes).map_err(|e| bad(e.to_string()))?;
        if let Some(refused) = signed.refuse_without_csrf(&token.csrf) {
            return Err(refused);
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| bad(e.to_string()))?;
        Ok(Posted { signed, form })
    }
}

/// The most a console form may send: an API's draft or a certificate chain fits many times.
const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// Why the admin API refused a change, as shown next to what was typed: the field it names,
/// and its message.
pub(crate) fn reason(e: &crate::error::ApiError) -> String {
    match e {
        crate::error::ApiError::Validation(v) => format!("{}: {}", v.field, v.message),
        other => other.to_string(),
    }
}

/// The state, as the page handlers take it.
pub(crate) type Console = State<AppState>;

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    csrf: Option<String>,
    title: &'a str,
    message: &'a str,
    /// Where the way back leads.
    back: &'a str,
}

pub(crate) fn error_page(
    status: StatusCode,
    title: &str,
    message: &str,
    csrf: Option<String>,
) -> Response {
    render(
        status,
        &ErrorPage {
            csrf,
            title,
            message,
            back: "/console",
        },
    )
}

/// A change the admin API refused, with its reason and a link back to the page it came from.
pub(crate) fn refusal_page(
    status: StatusCode,
    title: &str,
    message: &str,
    back: &str,
    csrf: &str,
) -> Response {
    render(
        status,
        &ErrorPage {
            csrf: Some(csrf.to_string()),
            title,
            message,
            back,
        },
    )
}

/// Rows a list shows per page.
pub(crate) const PAGE_SIZE: usize = 50;

/// Where a list page is: its search, its page, and the links to its neighbours.
pub(crate) struct Pager {
    pub(crate) path: &'static str,
    pub(crate) q: String,
    pub(crate) q_url: String,
    pub(crate) total: usize,
    pub(crate) page: usize,
    pub(crate) pages: usize,
    pub(crate) prev: Option<usize>,
    pub(crate) next: Option<usize>,
}

/// The rows matching `q` (by `matches`, lowercase) on page `page` of `path`'s list.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    path: &'static str,
    q: &str,
    page: Option<usize>,
    matches: impl Fn(&T, &str) -> bool,
) -> (Vec<T>, Pager) {
    let needle = q.trim().to_lowercase();
    let matching: Vec<T> = items
        .into_iter()
        .filter(|item| needle.is_empty() || matches(item, &needle))
        .collect();
    let total = matching.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = page.unwrap_or(1).clamp(1, pages);
    let rows = matching
        .into_iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    let pager = Pager {
        path,
        q: q.to_string(),
        q_url: query_escape(q),
        total,
        page,
        pages,
        prev: (page > 1).then(|| page - 1),
        next: (page < pages).then(|| page + 1),
    };
    (rows, pager)
}

/// A value in a query string or a form (unreserved characters kept, the rest %-escaped).
pub(crate) fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Epoch milliseconds as a UTC date to the minute, as the CLI shows them.
pub(crate) fn date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Howard Hinnant's days-to-civil.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_to_the_minute() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_796_095_620_000), "2026-12-01 03:27 UTC");
    }

    #[test]
    fn lists_are_searched_then_paged() {
        let items: Vec<usize> = (0..120).collect();
        let (rows, pager) = paginate(items.clone(), "/x", "", Some(3), |_, _| true);
        assert_eq!(rows, (100..120).collect::<Vec<_>>());
        assert_eq!(
            (pager.page, pager.pages, pager.prev, pager.next),
            (3, 3, Some(2), None)
        );
        let (rows, pager) = paginate(items, "/x", "A b", None, |i, q| q == "a b" && *i < 2);
        assert_eq!(rows, [0, 1]);
        assert_eq!(pager.q_url, "A%20b");
    }
}
