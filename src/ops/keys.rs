//! Signing keys (public state; rotation by root clients) and the audit trail.

use chrono::Utc;

use super::{Context, Ops, OpsError, Permission};
use crate::keys::{KeyEncryptionKey, KeyStatus};
use crate::store::{self, audit::AuditEvent, audit::AuditFilter};

/// Every signing key's public identity and state.
pub async fn list(ops: &Ops<'_>, ctx: &Context) -> Result<Vec<KeyStatus>, OpsError> {
    ctx.require(Permission::ReadCatalog)?;
    Ok(store::keys::statuses(ops.db, Utc::now(), ops.settings.token_max_ttl).await?)
}

/// Adds a signing key: published at once, signing after one JWKS cache lifetime (at once
/// with `now`, for emergencies).
pub async fn rotate(
    ops: &Ops<'_>,
    ctx: &Context,
    kek: &KeyEncryptionKey,
    now: bool,
) -> Result<KeyStatus, OpsError> {
    ctx.require(Permission::ManageKeys)?;
    let s = ops.settings;
    let key = store::keys::rotate(
        ops.db,
        s.key_algorithm,
        kek,
        s.jwks_max_age,
        s.token_max_ttl,
        now,
        &ctx.actor,
    )
    .await?;
    // Publish in this process at once rather than at the next refresh tick.
    if let Some(state) = ops.server
        && let Err(e) = state.reload_keys().await
    {
        tracing::error!(error = %e, "reloading keys after rotation failed");
    }
    Ok(key)
}

/// A page of audit events, newest first, and their total; a delegated admin sees only events
/// about itself and its subtree.
pub async fn audit_events(
    ops: &Ops<'_>,
    ctx: &Context,
    mut filter: AuditFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<AuditEvent>, u64), OpsError> {
    ctx.require(Permission::ReadAudit)?;
    for p in filter.projects.iter().flatten() {
        ctx.require_in(Permission::ReadAudit, p)?;
    }
    if let Some(mut ids) = ctx.visible_clients(ops.db).await? {
        ids.extend(ctx.client_id().map(str::to_owned));
        filter.among = Some(ids);
    } else if let Some(projects) = ctx.projects() {
        // A project named by the caller is one of these (checked above).
        filter.projects.get_or_insert(projects);
        let (mut events, total) = store::audit::page(ops.db, &filter, offset, limit).await?;
        // A person's memberships elsewhere are not this project's business.
        for e in events
            .iter_mut()
            .filter(|e| e.kind.starts_with("administrator."))
        {
            if let Some(d) = e.details.as_object_mut() {
                d.remove("memberships");
            }
        }
        return Ok((events, total));
    }
    Ok(store::audit::page(ops.db, &filter, offset, limit).await?)
}
