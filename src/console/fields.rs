//! What the forms of the APIs, Roles, Projects and Audit log pages share: reading a posted
//! form, and showing an operation's refusal beside the field it names.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;

use super::ConsoleError;
use crate::ops::OpsError;
use crate::store::StoreError;

/// A posted form, as its pairs (a field may repeat: checkboxes).
pub struct Posted(pub Vec<(String, String)>);

impl Posted {
    /// The first value of `key`, or "".
    pub fn one(&self, key: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether a checkbox `key` was ticked.
    pub fn ticked(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
}

/// Messages per field, shown beside them; `form` is about the whole form.
#[derive(Default)]
pub struct FieldErrors {
    pub form: Option<String>,
    fields: BTreeMap<&'static str, String>,
}

impl FieldErrors {
    /// The message for `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    /// Whether there is no message at all.
    pub fn is_empty(&self) -> bool {
        self.form.is_none() && self.fields.is_empty()
    }

    /// Whether `field` has a message (for `aria-invalid`).
    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    /// One message about the whole form.
    pub fn about_form(message: String) -> Self {
        FieldErrors {
            form: Some(message),
            ..FieldErrors::default()
        }
    }

    /// One message beside `field`.
    pub fn beside(field: &'static str, message: &str) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message.to_owned());
        errors
    }

    pub fn add(&mut self, field: &'static str, message: String) {
        self.fields
            .entry(field)
            .and_modify(|m| {
                m.push_str("; ");
                m.push_str(&message);
            })
            .or_insert(message);
    }

    /// An operation's refusal as the form shows it, with its status: validation (`422`) and
    /// conflicts (`409`) beside the field they name, other refusals (`403`, `409`) above the
    /// form. Anything else (not found, the database) is the console's error page.
    pub fn of(
        e: OpsError,
        fields: &[&'static str],
    ) -> Result<(StatusCode, FieldErrors), ConsoleError> {
        let mut errors = FieldErrors::default();
        let beside = |errors: &mut FieldErrors, field: &'static str, message: String| {
            if fields.contains(&field) {
                errors.add(field, message);
            } else {
                let text = format!("{field}: {message}");
                errors.form = Some(match errors.form.take() {
                    Some(f) => format!("{f}; {text}"),
                    None => text,
                });
            }
        };
        let status = match e {
            OpsError::Invalid(list) | OpsError::Store(StoreError::Validation(list)) => {
                for (field, message) in list {
                    beside(&mut errors, field, message);
                }
                StatusCode::UNPROCESSABLE_ENTITY
            }
            OpsError::Store(StoreError::Invalid { field, message }) => {
                beside(&mut errors, field, message);
                StatusCode::UNPROCESSABLE_ENTITY
            }
            // A conflict's message is a sentence of its own.
            OpsError::Store(StoreError::Conflict { field, message }) => {
                if fields.contains(&field) {
                    errors.add(field, message);
                } else {
                    errors.form = Some(message);
                }
                StatusCode::CONFLICT
            }
            OpsError::Conflict(message) => {
                errors.form = Some(message);
                StatusCode::CONFLICT
            }
            OpsError::Forbidden(message) => {
                errors.form = Some(message);
                StatusCode::FORBIDDEN
            }
            other => return Err(other.into()),
        };
        Ok((status, errors))
    }
}
