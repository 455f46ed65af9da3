//! What every console page shares: the signed-in request (the session its cookie names),
//! rendering a template, and the error page.

use askama::Template;
use axum::extract::{FromRequestParts, State};
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

/// The state, as the page handlers take it.
pub(crate) type Console = State<AppState>;

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    csrf: Option<String>,
    title: &'a str,
    message: &'a str,
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
        },
    )
}
