//! Admin API errors as RFC 9457 problem details, mapped to HTTP in this one place.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use http_api_problem::HttpApiProblem;
use serde::Serialize;

use crate::ops::OpsError;
use crate::store::StoreError;

/// One field that failed validation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The JSON field (or query parameter) at fault.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The problem document, for the OpenAPI description.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// This occurrence.
    pub detail: String,
    /// Validation errors, one a field.
    pub errors: Option<Vec<FieldError>>,
}

/// A refusal of the admin API.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No bearer token.
    #[error("a bearer access token is required")]
    NoToken,
    /// Bad, expired or revoked token, or one of a disabled or deleted client.
    #[error("the access token is invalid")]
    InvalidToken,
    /// A DPoP-bound token presented as a bearer token, or without a proof.
    #[error(
        "this access token is bound to a DPoP key: send it as `Authorization: DPoP` with a DPoP proof"
    )]
    DpopRequired,
    /// The DPoP proof of a bound token is bad.
    #[error("{0}")]
    InvalidDpopProof(String),
    /// The token lacks the scope.
    #[error("the access token lacks scope {0}")]
    InsufficientScope(&'static str),
    /// The caller may not do this (e.g. grant scopes it does not hold).
    #[error("{0}")]
    Forbidden(String),
    /// Unknown id.
    #[error("{0} not found")]
    NotFound(String),
    /// Bad input, with the fields at fault.
    #[error("the request is invalid")]
    Validation(Vec<FieldError>),
    /// Malformed request (not JSON, wrong content type).
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// Body over the limit.
    #[error("request body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    /// The body did not arrive within `server.body_timeout_seconds`.
    #[error("the request body did not arrive within {0} s")]
    BodyTimeout(u64),
    /// The path exists, the method does not.
    #[error("method not allowed here; allowed: {0}")]
    MethodNotAllowed(&'static str),
    /// Wrong media type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The database does not answer: nothing changed; retry later.
    #[error("the database is unavailable; nothing was changed, retry later")]
    Unavailable,
    /// Our fault.
    #[error("internal error")]
    Internal,
}

impl AdminError {
    /// A validation error on one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        AdminError::Validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    fn kind(&self) -> &'static str {
        match self {
            AdminError::NoToken
            | AdminError::InvalidToken
            | AdminError::DpopRequired
            | AdminError::InvalidDpopProof(_) => "urn:tessera:problem:unauthorized",
            AdminError::InsufficientScope(_) | AdminError::Forbidden(_) => {
                "urn:tessera:problem:forbidden"
            }
            AdminError::NotFound(_) => "urn:tessera:problem:not-found",
            AdminError::Validation(_) => "urn:tessera:problem:validation",
            AdminError::BadRequest(_) => "urn:tessera:problem:bad-request",
            AdminError::Conflict(_) => "urn:tessera:problem:conflict",
            AdminError::PayloadTooLarge(_) => "urn:tessera:problem:payload-too-large",
            AdminError::BodyTimeout(_) => "urn:tessera:problem:request-timeout",
            AdminError::UnsupportedMediaType(_) => "urn:tessera:problem:unsupported-media-type",
            AdminError::MethodNotAllowed(_) => "urn:tessera:problem:method-not-allowed",
            AdminError::Unavailable => "urn:tessera:problem:unavailable",
            AdminError::Internal => "urn:tessera:problem:internal",
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            return AdminError::Unavailable;
        }
        match e {
            StoreError::NotFound(what) => AdminError::NotFound(what),
            StoreError::Invalid { field, message } => AdminError::field(field, message),
            StoreError::Validation(errors) => AdminError::Validation(
                errors
                    .into_iter()
                    .map(|(field, message)| FieldError {
                        field: field.to_owned(),
                        message,
                    })
                    .collect(),
            ),
            StoreError::Conflict { message, .. } => AdminError::Conflict(message),
            StoreError::Db(e) => {
                tracing::error!(error = %e, "database error in admin API");
                AdminError::Internal
            }
            StoreError::Key(e) => {
                tracing::error!(error = %e, "key error in admin API");
                AdminError::Internal
            }
            StoreError::Unavailable(_) => AdminError::Unavailable,
        }
    }
}

impl From<OpsError> for AdminError {
    fn from(e: OpsError) -> Self {
        match e {
            OpsError::InsufficientScope(scope) => AdminError::InsufficientScope(scope),
            OpsError::Forbidden(why) => AdminError::Forbidden(why),
            OpsError::NotFound(what) => AdminError::NotFound(what),
            OpsError::Conflict(why) => AdminError::Conflict(why),
            OpsError::Invalid(errors) => AdminError::Validation(
                errors
                    .into_iter()
                    .map(|(field, message)| FieldError {
                        field: field.to_owned(),
                        message,
                    })
                    .collect(),
            ),
            OpsError::Store(e) => e.into(),
        }
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::NoToken
            | AdminError::InvalidToken
            | AdminError::DpopRequired
            | AdminError::InvalidDpopProof(_) => StatusCode::UNAUTHORIZED,
            AdminError::InsufficientScope(_) | AdminError::Forbidden(_) => StatusCode::FORBIDDEN,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AdminError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            AdminError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AdminError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AdminError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AdminError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut problem = HttpApiProblem::try_new(status.as_u16())
            .unwrap_or_else(|_| HttpApiProblem::empty())
            .type_url(self.kind())
            .title(status.canonical_reason().unwrap_or("Error"))
            .detail(self.to_string());
        if let AdminError::Validation(errors) = self {
            problem = problem.value("errors", errors);
        }
        let mut response = HttpResponse::build(status);
        response
            .insert_header((header::CONTENT_TYPE, "application/problem+json"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
        // RFC 6750 §3.
        let challenge = match self {
            AdminError::NoToken => Some("Bearer realm=\"tessera\"".to_owned()),
            AdminError::InvalidToken => {
                Some("Bearer realm=\"tessera\", error=\"invalid_token\"".to_owned())
            }
            // RFC 9449 §7.1.
            AdminError::DpopRequired => Some(format!(
                "DPoP realm=\"tessera\", error=\"invalid_token\", algs=\"{}\"",
                crate::oauth::dpop::algorithms().join(" ")
            )),
            AdminError::InvalidDpopProof(_) => Some(format!(
                "DPoP realm=\"tessera\", error=\"invalid_dpop_proof\", algs=\"{}\"",
                crate::oauth::dpop::algorithms().join(" ")
            )),
            AdminError::InsufficientScope(scope) => Some(format!(
                "Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"{scope}\""
            )),
            _ => None,
        };
        if let Some(c) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.insert_header((header::WWW_AUTHENTICATE, c));
        }
        if let AdminError::Unavailable = self {
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        response.body(problem.json_bytes())
    }
}
