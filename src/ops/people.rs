//! Projects, administrators and the ownership of clients by people (SPEC §7).

use super::{Context, Ops, OpsError, Permission};
use crate::store::administrators::{self, Administrator, AdministratorChange, NewAdministrator};
use crate::store::projects::{self, Project};

/// The projects the actor reaches, by name.
pub async fn projects(ops: &Ops<'_>, ctx: &Context) -> Result<Vec<Project>, OpsError> {
    ctx.require(Permission::ReadPeople)?;
    Ok(projects::list(ops.db, ctx.projects().as_deref()).await?)
}

/// One project (another team's is `NotFound`).
pub async fn project(ops: &Ops<'_>, ctx: &Context, name: &str) -> Result<Project, OpsError> {
    ctx.require_in(Permission::ReadPeople, name)?;
    Ok(projects::get(ops.db, name).await?)
}

/// Makes a project.
pub async fn create_project(
    ops: &Ops<'_>,
    ctx: &Context,
    name: &str,
    display_name: &str,
    description: &str,
) -> Result<Project, OpsError> {
    ctx.require(Permission::ManagePeople)?;
    Ok(projects::create(ops.db, name, display_name, description, &ctx.actor).await?)
}

/// Changes a project's display name or description.
pub async fn update_project(
    ops: &Ops<'_>,
    ctx: &Context,
    name: &str,
    display_name: Option<String>,
    description: Option<String>,
) -> Result<Project, OpsError> {
    ctx.require_in(Permission::ReadPeople, name)?;
    ctx.require(Permission::ManagePeople)?;
    Ok(projects::update(ops.db, name, display_name, description, &ctx.actor).await?)
}

/// Deletes a project (with `force`, also its clients).
pub async fn delete_project(
    ops: &Ops<'_>,
    ctx: &Context,
    name: &str,
    force: bool,
) -> Result<(), OpsError> {
    ctx.require_in(Permission::ReadPeople, name)?;
    ctx.require(Permission::ManagePeople)?;
    let affected = projects::delete(ops.db, name, force, &ctx.actor).await?;
    ops.invalidate(&affected).await;
    ops.invalidate_all();
    Ok(())
}

/// What the actor may see of an administrator: everything for those who reach every
/// project; otherwise only people with a membership in one of its projects, and only those
/// memberships.
fn visible(ctx: &Context, mut a: Administrator) -> Option<Administrator> {
    match ctx.projects() {
        None => Some(a),
        Some(ps) => {
            a.memberships.retain(|m| ps.contains(&m.project));
            (!a.memberships.is_empty()).then_some(a)
        }
    }
}

/// The administrators the actor reaches, by email; `project` narrows to one project.
pub async fn administrators(
    ops: &Ops<'_>,
    ctx: &Context,
    project: Option<&str>,
) -> Result<Vec<Administrator>, OpsError> {
    ctx.require(Permission::ReadPeople)?;
    if let Some(p) = project {
        ctx.require_in(Permission::ReadPeople, p)?;
    }
    let only = project.map(|p| vec![p.to_owned()]);
    Ok(administrators::list(ops.db, only.as_deref())
        .await?
        .into_iter()
        .filter_map(|a| visible(ctx, a))
        .collect())
}

/// One administrator (`NotFound` when the actor shares no project with them).
pub async fn administrator(
    ops: &Ops<'_>,
    ctx: &Context,
    id: &str,
) -> Result<Administrator, OpsError> {
    ctx.require(Permission::ReadPeople)?;
    let a = administrators::get(ops.db, id).await?;
    visible(ctx, a).ok_or_else(|| OpsError::NotFound(format!("administrator {id}")))
}

/// One administrator by email, as the actor may see them.
pub async fn administrator_by_email(
    ops: &Ops<'_>,
    ctx: &Context,
    email: &str,
) -> Result<Administrator, OpsError> {
    ctx.require(Permission::ReadPeople)?;
    administrators::find_by_email(ops.db, email)
        .await?
        .and_then(|a| visible(ctx, a))
        .ok_or_else(|| OpsError::NotFound(format!("administrator {email}")))
}

/// Makes an administrator; returns them and their one-time enrollment URL.
pub async fn create_administrator(
    ops: &Ops<'_>,
    ctx: &Context,
    new: NewAdministrator,
) -> Result<(Administrator, String), OpsError> {
    ctx.require(Permission::ManagePeople)?;
    let (a, token) = administrators::create(ops.db, new, &ctx.actor).await?;
    Ok((a, format!("{}/console/enroll/{token}", ops.issuer())))
}

/// A new enrollment URL for someone (e.g. a lost link); older unused ones stop working.
pub async fn reissue_enrollment(
    ops: &Ops<'_>,
    ctx: &Context,
    id: &str,
) -> Result<String, OpsError> {
    ctx.require(Permission::ManagePeople)?;
    administrators::get(ops.db, id).await?;
    let token = administrators::issue_enrollment(ops.db, id).await?;
    Ok(format!("{}/console/enroll/{token}", ops.issuer()))
}

/// Changes an administrator. Those who manage people change anything; a project owner
/// changes only memberships in the projects they own.
pub async fn update_administrator(
    ops: &Ops<'_>,
    ctx: &Context,
    id: &str,
    mut change: AdministratorChange,
) -> Result<Administrator, OpsError> {
    let before = administrator(ops, ctx, id).await?;
    if ctx.require(Permission::ManagePeople).is_err() {
        if change.display_name.is_some() || change.enabled.is_some() || change.superadmin.is_some()
        {
            ctx.require(Permission::ManagePeople)?;
        }
        let Some(wanted) = change.memberships.take() else {
            return Ok(before);
        };
        // The actor sees only memberships in its projects: keep the others as they are.
        let full = administrators::get(ops.db, id).await?;
        let mut touched: Vec<String> = Vec::new();
        for m in wanted.iter() {
            if full.membership(&m.project) != Some(m) {
                touched.push(m.project.clone());
            }
        }
        for m in &full.memberships {
            if ctx.sees_project(&m.project) && !wanted.iter().any(|w| w.project == m.project) {
                touched.push(m.project.clone());
            }
        }
        for p in &touched {
            ctx.require_in(Permission::ManageMembers, p)?;
        }
        if ctx.person().is_some_and(|me| me.id == id) && !touched.is_empty() {
            return Err(OpsError::Forbidden(
                "you may not change your own memberships; ask another owner or a superadmin".into(),
            ));
        }
        // What an owner hands out stays within what they may grant themselves.
        if let Some(me) = ctx.person() {
            for m in wanted.iter().filter(|m| touched.contains(&m.project)) {
                let mine = me.ceiling(&m.project);
                let fits = match &m.scopes {
                    None => matches!(
                        mine,
                        crate::store::administrators::Ceiling::Anything
                            | crate::store::administrators::Ceiling::Limited { scopes: None, .. }
                    ),
                    Some(list) => list.iter().all(|s| mine.allows(s)),
                };
                if !fits {
                    return Err(OpsError::Forbidden(format!(
                        "a ceiling in project {:?} may not exceed your own",
                        m.project
                    )));
                }
            }
        }
        let mut merged: Vec<_> = full
            .memberships
            .into_iter()
            .filter(|m| !ctx.sees_project(&m.project))
            .collect();
        merged.extend(wanted);
        change.memberships = Some(merged);
    } else if let Some(wanted) = &change.memberships {
        for m in wanted {
            if !ctx.sees_project(&m.project) {
                return Err(OpsError::NotFound(format!("project {}", m.project)));
            }
        }
    }
    let (after, disabled) = administrators::update(ops.db, id, change, &ctx.actor).await?;
    ops.invalidate(&disabled).await;
    // Their clients' effective scopes follow the new ceiling at once.
    ops.invalidate_all();
    // Done: show what the actor may see of them, possibly no membership at all any more.
    Ok(match ctx.projects() {
        None => after,
        Some(ps) => {
            let mut a = after;
            a.memberships.retain(|m| ps.contains(&m.project));
            a
        }
    })
}

/// Deletes an administrator; their clients stay, disabled, until transferred.
pub async fn delete_administrator(ops: &Ops<'_>, ctx: &Context, id: &str) -> Result<(), OpsError> {
    administrator(ops, ctx, id).await?;
    ctx.require(Permission::ManagePeople)?;
    if ctx.person().is_some_and(|me| me.id == id) {
        return Err(OpsError::Conflict(
            "you cannot delete yourself; ask another superadmin".into(),
        ));
    }
    let disabled = administrators::delete(ops.db, id, &ctx.actor).await?;
    ops.invalidate(&disabled).await;
    ops.invalidate_all();
    Ok(())
}

/// Moves a client to another administrator of its project (SPEC §7): project owners,
/// superadmins, root clients and the command line may. The new owner must manage the
/// client's project and their ceiling must allow every scope it holds.
pub async fn transfer(
    ops: &Ops<'_>,
    ctx: &Context,
    client_id: &str,
    new_owner: &str,
) -> Result<crate::store::Client, OpsError> {
    let target = ctx
        .client_target(ops.db, Permission::WriteClients, client_id)
        .await?;
    let client = crate::store::clients::get(ops.db, client_id).await?;
    if client.owner.is_none() && client.owner_administrator.is_none() {
        return Err(OpsError::Conflict(
            "a root client has no owner to transfer; it stays a root client".into(),
        ));
    }
    if ctx.person().is_some() {
        ctx.require_in(Permission::ManageMembers, &client.project)?;
    } else if ctx.delegated().is_some() || target != super::Target::Any {
        return Err(OpsError::Forbidden(
            "only project owners, superadmins and root clients may transfer clients".into(),
        ));
    }
    let owner = match administrators::get(ops.db, new_owner).await {
        Ok(a) => a,
        Err(crate::store::StoreError::NotFound(_)) => {
            return Err(OpsError::Invalid(vec![(
                "owner",
                format!("no administrator with id {new_owner:?}"),
            )]));
        }
        Err(e) => return Err(e.into()),
    };
    if !owner.manages(&client.project) {
        return Err(OpsError::Invalid(vec![(
            "owner",
            format!(
                "administrator {new_owner} is not an enabled admin or owner of project {:?}",
                client.project
            ),
        )]));
    }
    let ceiling = owner.ceiling(&client.project);
    let mut held: Vec<String> = client.scopes.clone();
    let keys: Vec<String> = client
        .roles
        .iter()
        .map(|r| crate::store::roles::key(&client.project, r))
        .collect();
    held.extend(crate::store::roles::scopes_of_roles(ops.db, &keys).await?);
    let mut beyond: Vec<String> = held.into_iter().filter(|s| !ceiling.allows(s)).collect();
    beyond.sort();
    beyond.dedup();
    if !beyond.is_empty() {
        return Err(OpsError::Invalid(vec![(
            "owner",
            format!(
                "the new owner may not grant {} in project {:?}",
                beyond.join(" "),
                client.project
            ),
        )]));
    }
    administrators::transfer(ops.db, client_id, new_owner, &ctx.actor).await?;
    ops.invalidate_all();
    Ok(crate::store::clients::get(ops.db, client_id).await?)
}
