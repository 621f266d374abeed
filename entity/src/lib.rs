//! sea-orm entities for Tessera's tables.

pub mod admin_session;
pub mod administrator;
pub mod api;
pub mod audit_event;
pub mod auth_failure;
pub mod change_log;
pub mod client;
pub mod client_role;
pub mod client_scope;
pub mod client_secret;
pub mod enrollment_token;
pub mod membership;
pub mod passkey;
pub mod project;
pub mod revocation;
pub mod role;
pub mod role_scope;
pub mod signing_key;
pub mod totp_credential;
pub mod used_jti;
