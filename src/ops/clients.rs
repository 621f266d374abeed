//! Clients and their secrets: the owner rule, the subtree rule, self-protection, and the
//! cache invalidation every change needs.

use chrono::{DateTime, DurationRound, Utc};

use super::{Context, Granter, Ops, OpsError, Permission, Target};
use crate::secret::ClientSecret;
use crate::store::secrets::SecretInfo;
use crate::store::{self, Client, ClientFields, FieldRules, NewClient};

/// A page of the clients the actor may see, oldest first, and their total; `project`
/// narrows to one project.
pub async fn list(
    ops: &Ops<'_>,
    ctx: &Context,
    project: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Client>, u64), OpsError> {
    ctx.require(Permission::ReadClients)?;
    let projects = match project {
        Some(p) => {
            ctx.require_in(Permission::ReadClients, p)?;
            Some(vec![p.to_owned()])
        }
        None => ctx.projects(),
    };
    let among = ctx.visible_clients(ops.db).await?;
    Ok(store::clients::page(ops.db, among.as_deref(), projects.as_deref(), offset, limit).await?)
}

/// A searched, filtered, sorted page of the clients the actor may see (the rules of
/// [`list`]), and how many match.
pub async fn search(
    ops: &Ops<'_>,
    ctx: &Context,
    project: Option<&str>,
    query: &store::clients::ClientQuery,
) -> Result<(Vec<Client>, u64), OpsError> {
    ctx.require(Permission::ReadClients)?;
    let projects = match project {
        Some(p) => {
            ctx.require_in(Permission::ReadClients, p)?;
            Some(vec![p.to_owned()])
        }
        None => ctx.projects(),
    };
    let among = ctx.visible_clients(ops.db).await?;
    Ok(store::clients::search_page(ops.db, among.as_deref(), projects.as_deref(), query).await?)
}

/// One client and the tokens issued to it in the last 24 hours.
pub async fn get(ops: &Ops<'_>, ctx: &Context, client_id: &str) -> Result<(Client, u64), OpsError> {
    ctx.client_target(ops.db, Permission::ReadClients, client_id)
        .await?;
    let client = store::clients::get(ops.db, client_id).await?;
    let since = Utc::now() - chrono::Duration::hours(24);
    let issued = store::audit::tokens_issued_since(ops.db, client_id, since).await?;
    Ok((client, issued))
}

/// One client, for reading.
pub async fn read(ops: &Ops<'_>, ctx: &Context, client_id: &str) -> Result<Client, OpsError> {
    ctx.client_target(ops.db, Permission::ReadClients, client_id)
        .await?;
    Ok(store::clients::get(ops.db, client_id).await?)
}

/// Everything the console's client page shows, read with the rights of [`get`]: the
/// client, who owns it (a name for people), its secrets (masked), tokens issued per hour over
/// the last 24 hours (oldest first, from `hours_from`), and its latest audit events (when the
/// actor may read the audit trail).
pub struct Overview {
    pub client: Client,
    pub owner: Option<String>,
    pub secrets: Vec<SecretInfo>,
    pub hours_from: DateTime<Utc>,
    pub hourly: Vec<u64>,
    pub events: Vec<store::audit::AuditEvent>,
    pub events_total: u64,
}

/// The client page's data (see [`Overview`]); `events` is how many events to show.
pub async fn overview(
    ops: &Ops<'_>,
    ctx: &Context,
    client_id: &str,
    events: u64,
) -> Result<Overview, OpsError> {
    ctx.client_target(ops.db, Permission::ReadClients, client_id)
        .await?;
    let client = store::clients::get(ops.db, client_id).await?;
    let owner = match (&client.owner_administrator, &client.owner) {
        (Some(person), _) => Some(match store::administrators::get(ops.db, person).await {
            Ok(a) => format!("{} ({})", a.display_name, a.email),
            Err(store::StoreError::NotFound(_)) => person.clone(),
            Err(e) => return Err(e.into()),
        }),
        (None, Some(owner)) => Some(match store::clients::get(ops.db, owner).await {
            Ok(c) => format!("client {} ({})", c.name, c.client_id),
            Err(store::StoreError::NotFound(_)) => owner.clone(),
            Err(e) => return Err(e.into()),
        }),
        (None, None) => None,
    };
    let secrets = store::secrets::list(ops.db, client_id).await?;
    let now = Utc::now();
    let this_hour = now
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap_or(now);
    let hours_from = this_hour - chrono::Duration::hours(23);
    let hourly = store::audit::tokens_issued_hourly(ops.db, client_id, hours_from, 24).await?;
    let (events, events_total) = if ctx.require(Permission::ReadAudit).is_ok() {
        let filter = store::audit::AuditFilter {
            client_id: Some(client_id.to_owned()),
            ..Default::default()
        };
        super::keys::audit_events(ops, ctx, filter, 0, events).await?
    } else {
        (Vec::new(), 0)
    };
    Ok(Overview {
        client,
        owner,
        secrets,
        hours_from,
        hourly,
        events,
        events_total,
    })
}

/// A client as it stands, for a change the actor is about to make (a merge patch reads it
/// first): needs the write permission only, as changing it does.
pub async fn current(ops: &Ops<'_>, ctx: &Context, client_id: &str) -> Result<Client, OpsError> {
    ctx.client_target(ops.db, Permission::WriteClients, client_id)
        .await?;
    Ok(store::clients::get(ops.db, client_id).await?)
}

/// Creates a client in `project` (default: the actor's) owned by the acting client or
/// administrator (a root client when the CLI acts), with its first secret.
pub async fn create(
    ops: &Ops<'_>,
    ctx: &Context,
    project: Option<String>,
    fields: ClientFields,
) -> Result<(Client, Option<ClientSecret>), OpsError> {
    let project = project.unwrap_or_else(|| ctx.home_project());
    ctx.require_in(Permission::WriteClients, &project)?;
    store::projects::get(ops.db, &project).await?;
    check_grantable(ops, ctx, &project, &fields.scopes, &fields.roles).await?;
    let new = NewClient {
        fields,
        project,
        owner: ctx.client_id().map(str::to_owned),
        owner_administrator: ctx.person().map(|a| a.id.clone()),
    };
    let created =
        store::clients::create(ops.db, new, FieldRules::of(ops.settings), Some(&ctx.actor)).await?;
    ops.invalidate([created.0.client_id.as_str()]).await;
    Ok(created)
}

/// Replaces a client's settable fields. Newly granted scopes and roles follow the owner rule;
/// a delegated admin may change only its own name and description.
pub async fn replace(
    ops: &Ops<'_>,
    ctx: &Context,
    client_id: &str,
    fields: ClientFields,
) -> Result<Client, OpsError> {
    let target = ctx
        .client_target(ops.db, Permission::WriteClients, client_id)
        .await?;
    let before = store::clients::get(ops.db, client_id).await?;
    if target == Target::Itself {
        // Compared as stored: sorted, without duplicates, addresses normalised.
        let stored = |items: Vec<String>| -> Vec<String> {
            let set: std::collections::BTreeSet<String> = items.into_iter().collect();
            set.into_iter().collect()
        };
        let ips = stored(
            fields
                .allowed_ips
                .iter()
                .filter_map(|ip| store::parse_ip_range(ip).map(|n| n.to_string()))
                .collect(),
        );
        if stored(fields.scopes.clone()) != before.scopes
            || stored(fields.roles.clone()) != before.roles
            || fields.enabled != before.enabled
            || fields.token_ttl_seconds != before.token_ttl_seconds
            || ips != before.allowed_ips
            || fields
                .auth
                .as_ref()
                .is_some_and(|a| *a != before.auth_fields())
        {
            return Err(OpsError::Forbidden(
                "a client may not change its own scopes, roles, lifetime, state, allowed \
                 addresses or authentication"
                    .into(),
            ));
        }
    }
    let added: Vec<String> = fields
        .scopes
        .iter()
        .filter(|s| !before.scopes.contains(s))
        .cloned()
        .collect();
    let added_roles: Vec<String> = fields
        .roles
        .iter()
        .filter(|r| !before.roles.contains(r))
        .cloned()
        .collect();
    check_grantable(ops, ctx, &before.project, &added, &added_roles).await?;
    let (client, cascaded) = store::clients::replace(
        ops.db,
        client_id,
        fields,
        FieldRules::of(ops.settings),
        &ctx.actor,
    )
    .await?;
    ops.invalidate(cascaded.iter().map(String::as_str).chain([client_id]))
        .await;
    Ok(client)
}

/// Deletes a client (not oneself); the clients it owned are disabled.
pub async fn delete(ops: &Ops<'_>, ctx: &Context, client_id: &str) -> Result<(), OpsError> {
    if ctx
        .client_target(ops.db, Permission::WriteClients, client_id)
        .await?
        == Target::Itself
    {
        return Err(OpsError::Forbidden("a client may not delete itself".into()));
    }
    let cascaded = store::clients::delete(ops.db, client_id, &ctx.actor).await?;
    ops.invalidate(cascaded.iter().map(String::as_str).chain([client_id]))
        .await;
    Ok(())
}

/// A client's secrets, masked.
pub async fn secrets(
    ops: &Ops<'_>,
    ctx: &Context,
    client_id: &str,
) -> Result<Vec<SecretInfo>, OpsError> {
    ctx.client_target(ops.db, Permission::ReadClients, client_id)
        .await?;
    Ok(store::secrets::list(ops.db, client_id).await?)
}

/// Adds a secret beside the others (at most ten live ones).
pub async fn add_secret(
    ops: &Ops<'_>,
    ctx: &Context,
    client_id: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(SecretInfo, ClientSecret), OpsError> {
    ctx.client_target(ops.db, Permission::WriteClients, client_id)
        .await?;
    uses_secrets(ops, client_id).await?;
    let added = store::secrets::add(ops.db, client_id, expires_at, &ctx.actor).await?;
    ops.invalidate([client_id]).await;
    Ok(added)
}

/// Deletes one secret; it stops working at once.
pub async fn delete_secret(
    ops: &Ops<'_>,
    ctx: &Context,
    client_id: &str,
    secret_id: &str,
) -> Result<(), OpsError> {
    ctx.client_target(ops.db, Permission::WriteClients, client_id)
        .await?;
    store::secrets::delete(ops.db, client_id, secret_id, &ctx.actor).await?;
    ops.invalidate([client_id]).await;
    Ok(())
}

/// Replaces every secret with a new one.
pub async fn reset_secret(
    ops: &Ops<'_>,
    ctx: &Context,
    client_id: &str,
) -> Result<(SecretInfo, ClientSecret), OpsError> {
    ctx.client_target(ops.db, Permission::WriteClients, client_id)
        .await?;
    uses_secrets(ops, client_id).await?;
    let reset = store::secrets::reset(ops.db, client_id, &ctx.actor).await?;
    ops.invalidate([client_id]).await;
    Ok(reset)
}

/// Secrets are only for clients that authenticate with one: the others get a clear conflict,
/// not a secret that could never work.
async fn uses_secrets(ops: &Ops<'_>, client_id: &str) -> Result<(), OpsError> {
    let client = store::clients::get(ops.db, client_id).await?;
    if client.token_endpoint_auth_method.uses_secret() {
        Ok(())
    } else {
        Err(OpsError::Conflict(format!(
            "this client authenticates with {}, not a secret: change its \
             token_endpoint_auth_method to client_secret_basic to give it secrets",
            client.token_endpoint_auth_method.as_str()
        )))
    }
}

/// Revokes every token issued to the client so far; returns the cutoff.
pub async fn revoke_tokens(
    ops: &Ops<'_>,
    ctx: &Context,
    client_id: &str,
) -> Result<DateTime<Utc>, OpsError> {
    ctx.client_target(ops.db, Permission::RevokeTokens, client_id)
        .await?;
    let cutoff = store::revocations::revoke_client_tokens(ops.db, client_id, &ctx.actor).await?;
    ops.invalidate([client_id]).await;
    Ok(cutoff)
}

/// The owner rule and the ceiling: a delegated admin may grant only scopes it holds now, an
/// administrator only scopes within their ceiling in the project (`admin:*` only as owner
/// or superadmin), directly or through the roles assigned (every scope of such a role
/// counts).
async fn check_grantable(
    ops: &Ops<'_>,
    ctx: &Context,
    project: &str,
    scopes: &[String],
    roles: &[String],
) -> Result<(), OpsError> {
    let granter = ctx.granter(project);
    if matches!(granter, Granter::Anything) {
        return Ok(());
    }
    let mut wanted = scopes.to_vec();
    let keys: Vec<String> = roles
        .iter()
        .filter(|r| !r.contains('/'))
        .map(|r| store::roles::key(project, r))
        .collect();
    wanted.extend(store::roles::scopes_of_roles(ops.db, &keys).await?);
    let allowed = |s: &str| match &granter {
        Granter::Anything => true,
        Granter::Holds(held) => held.iter().any(|h| h == s),
        Granter::Person(ceiling) => ceiling.allows(s),
    };
    let mut missing: Vec<&str> = wanted
        .iter()
        .filter(|s| !allowed(s))
        .map(String::as_str)
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        Ok(())
    } else if matches!(granter, Granter::Person(_)) {
        Err(OpsError::Forbidden(format!(
            "your ceiling in project {project:?} does not allow: {}",
            missing.join(" ")
        )))
    } else {
        Err(OpsError::Forbidden(format!(
            "you may grant only scopes you hold; not held: {}",
            missing.join(" ")
        )))
    }
}
