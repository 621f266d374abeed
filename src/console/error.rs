//! The console's one error type and its one mapping to HTTP: a short page, never a detail.

use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::secret::VerifyError;
use crate::signin::SigninError;
use crate::store::StoreError;

/// Why a console request failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No signed-in session: `303` to the sign-in page.
    #[error("sign-in required")]
    SignInRequired,
    /// A sensitive change without a recent second factor: `303` to the re-authentication
    /// page (the location), which returns to the change's confirmation page.
    #[error("re-authentication required")]
    Reauthenticate(String),
    /// Another origin, or a missing or wrong CSRF token: nothing was changed.
    #[error("forbidden")]
    Forbidden,
    /// Too many failed sign-ins from this source or for this email.
    #[error("too many failed sign-ins")]
    TooMany(Duration),
    /// No such page.
    #[error("not found")]
    NotFound,
    /// An enrollment link that is unknown, expired or spent (one answer for all three).
    #[error("enrollment link not valid")]
    EnrollmentInvalid,
    /// A form body that does not parse or is too large.
    #[error("malformed form")]
    BadForm,
    /// Password verification is saturated, or the database does not answer.
    #[error("unavailable")]
    Unavailable,
    /// A domain operation refused: its message is shown (it names no secret).
    #[error("{0}")]
    Refused(String),
    /// The change conflicts with the current state (e.g. enabling a client whose owner is
    /// disabled, an eleventh secret): its message is shown.
    #[error("{0}")]
    Conflict(String),
    /// Anything else; logged, never shown.
    #[error(transparent)]
    Internal(SigninError),
}

impl From<crate::ops::OpsError> for ConsoleError {
    fn from(e: crate::ops::OpsError) -> Self {
        use crate::ops::OpsError;
        match e {
            OpsError::NotFound(_) => ConsoleError::NotFound,
            OpsError::InsufficientScope(_) => ConsoleError::Forbidden,
            OpsError::Store(StoreError::NotFound(_)) => ConsoleError::NotFound,
            OpsError::Conflict(m) => ConsoleError::Conflict(m),
            OpsError::Store(StoreError::Conflict { field, message }) => {
                ConsoleError::Conflict(format!("{field}: {message}"))
            }
            OpsError::Store(s) => s.into(),
            other => ConsoleError::Refused(other.to_string()),
        }
    }
}

impl From<SigninError> for ConsoleError {
    fn from(e: SigninError) -> Self {
        match &e {
            SigninError::Verify(_) => ConsoleError::Unavailable,
            SigninError::Store(s) if s.is_unavailable() => ConsoleError::Unavailable,
            _ => ConsoleError::Internal(e),
        }
    }
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        SigninError::from(e).into()
    }
}

impl From<VerifyError> for ConsoleError {
    fn from(e: VerifyError) -> Self {
        SigninError::from(e).into()
    }
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct Message<'a> {
    css: &'a str,
    title: &'a str,
    message: &'a str,
}

/// Shown for every failed sign-in step: unknown email, wrong password and wrong code alike.
pub const SIGN_IN_FAILED: &str = "Incorrect email, password or authentication code.";

/// Shown for an enrollment link that is unknown, expired or spent.
pub const ENROLLMENT_INVALID: &str = "This enrollment link is not valid: it may have expired or \
    been used already. Ask an administrator for a new one.";

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignInRequired | ConsoleError::Reauthenticate(_) => StatusCode::SEE_OTHER,
            ConsoleError::Forbidden | ConsoleError::Refused(_) => StatusCode::FORBIDDEN,
            ConsoleError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ConsoleError::Conflict(_) => StatusCode::CONFLICT,
            ConsoleError::NotFound | ConsoleError::EnrollmentInvalid => StatusCode::NOT_FOUND,
            ConsoleError::BadForm => StatusCode::BAD_REQUEST,
            ConsoleError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ConsoleError::SignInRequired => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/console/sign-in"))
                    .finish();
            }
            ConsoleError::Reauthenticate(location) => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location.as_str()))
                    .finish();
            }
            _ => {}
        }
        let (title, message) = match self {
            ConsoleError::SignInRequired | ConsoleError::Reauthenticate(_) => {
                ("Sign in", "Sign in to continue.")
            }
            ConsoleError::Forbidden => (
                "Forbidden",
                "This request did not come from a page of this console, or its form has \
                 expired. Nothing was changed. Reload the page and try again.",
            ),
            ConsoleError::TooMany(_) => (
                "Too many attempts",
                "Too many failed sign-ins. Wait a while, then try again.",
            ),
            ConsoleError::NotFound => ("Not found", "There is no such page."),
            ConsoleError::EnrollmentInvalid => ("Enrollment link not valid", ENROLLMENT_INVALID),
            ConsoleError::BadForm => ("Bad request", "The form could not be read."),
            ConsoleError::Refused(message) => ("Not allowed", message.as_str()),
            ConsoleError::Conflict(message) => ("Not possible now", message.as_str()),
            ConsoleError::Unavailable => (
                "Busy",
                "The server is busy or its database does not answer. Try again shortly.",
            ),
            ConsoleError::Internal(e) => {
                tracing::error!(error = %e, "console request failed");
                ("Error", "Something went wrong. Nothing was changed.")
            }
        };
        let mut res = HttpResponse::build(self.status_code());
        match self {
            ConsoleError::TooMany(wait) => {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                res.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
            }
            ConsoleError::Unavailable => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            _ => {}
        }
        let page = Message {
            css: super::css(),
            title,
            message,
        };
        match page.render() {
            Ok(html) => res.content_type("text/html; charset=utf-8").body(html),
            Err(_) => res.finish(),
        }
    }
}
