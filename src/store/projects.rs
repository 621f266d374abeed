//! Projects: a team's APIs, roles and clients (SPEC §7).

/// The built-in project holding everything created without one.
pub const DEFAULT: &str = "default";
