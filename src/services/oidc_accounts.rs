//! Accounts behind campus sign-in: the account of an (`iss`, `sub`) — created just in time on
//! a first sign-in, never found by email alone —, its email and name refreshed on every
//! sign-in, an existing local account linked only when the provider says the email is
//! verified and the administrator allows linking, deactivated accounts refused, and the
//! administrator role following the configured claim (each change in the admin change log).
//! Also the one-time sign-in links of the break-glass path, and the identity given to
//! institution-wide connectors.

use super::admin_audit::{self, Change};
use super::oidc::Asserted;
use crate::config::OidcSettings;
use crate::crypto::{random_token, sha256_hex};
use crate::error::{AppError, AppResult};
use crate::models::entities::user;
use crate::models::{signin_links, user_identities, users};
use campuscore_connectors::UserIdentity;
use chrono::Utc;
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::{Value, json};

/// How long a break-glass sign-in link stays valid.
pub const SIGNIN_LINK_VALIDITY: chrono::Duration = chrono::Duration::minutes(15);

/// The account `asserted` signs in to, after every rule above. Nothing is written when the
/// sign-in is refused.
pub async fn sign_in(
    db: &DatabaseConnection,
    settings: &OidcSettings,
    asserted: &Asserted,
) -> AppResult<user::Model> {
    let email = asserted
        .email
        .as_deref()
        .map(users::normalize_email)
        .filter(|e| !e.is_empty());
    let name = asserted.name.clone().unwrap_or_default();
    let txn = db.begin().await?;
    let (account, identity_id) = match user_identities::find(&txn, &asserted.iss, &asserted.sub)
        .await?
    {
        Some(identity) => {
            let account = users::find(&txn, identity.user_id)
                .await?
                .ok_or(AppError::NotFound)?;
            refuse_inactive(&account)?;
            // Refresh the profile; an email another account holds is left as it was.
            let new_email = match &email {
                Some(e) if *e != account.email => match users::find_by_email(&txn, e).await? {
                    Some(_) => {
                        tracing::warn!(
                            user.id = account.id,
                            "campus sign-in: the provider's email belongs to another account; kept the old one"
                        );
                        account.email.clone()
                    }
                    None => e.clone(),
                },
                _ => account.email.clone(),
            };
            let name = if name.is_empty() {
                account.display_name.clone()
            } else {
                name
            };
            let account =
                user_identities::refresh_profile(&txn, account, &new_email, &name).await?;
            (account, identity.id)
        }
        None => {
            let email = email.ok_or_else(|| {
                AppError::FlowRejected(
                    "The identity provider did not share an email address, which this site needs. \
                     Ask your IT service to release the email claim."
                        .into(),
                )
            })?;
            let account = match users::find_by_email(&txn, &email).await? {
                Some(existing) => {
                    if !(settings.link_existing_accounts && asserted.email_verified) {
                        return Err(AppError::FlowRejected(
                            "An account with this email already exists here. Ask an administrator \
                             to allow linking it to campus sign-in, or sign in with its password."
                                .into(),
                        ));
                    }
                    refuse_inactive(&existing)?;
                    tracing::info!(
                        user.id = existing.id,
                        "campus sign-in: linked an existing account"
                    );
                    let name = if name.is_empty() {
                        existing.display_name.clone()
                    } else {
                        name
                    };
                    user_identities::refresh_profile(&txn, existing, &email, &name).await?
                }
                None => {
                    let created = user_identities::create_user(&txn, &email, &name).await?;
                    tracing::info!(user.id = created.id, "campus sign-in: account created");
                    created
                }
            };
            let identity =
                user_identities::insert(&txn, &asserted.iss, &asserted.sub, account.id).await?;
            (account, identity.id)
        }
    };
    let account = apply_admin_claim(&txn, settings, asserted, account).await?;
    user_identities::touch(&txn, identity_id, asserted.sid.as_deref()).await?;
    users::touch_last_login(&txn, account.id).await?;
    txn.commit().await?;
    Ok(account)
}

fn refuse_inactive(account: &user::Model) -> AppResult<()> {
    if account.is_active {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "This account has been deactivated. Ask an administrator to reactivate it.".into(),
        ))
    }
}

/// Whether the configured claim (a string or a list of strings) holds the admin value;
/// `None` when no admin claim is configured (then roles are managed on the admin pages).
pub fn admin_by_claim(
    settings: &OidcSettings,
    claims: &serde_json::Map<String, Value>,
) -> Option<bool> {
    let (claim, wanted) = (
        settings.admin_claim.as_ref()?,
        settings.admin_value.as_ref()?,
    );
    Some(match claims.get(claim) {
        Some(Value::String(s)) => s == wanted || s.split_whitespace().any(|v| v == wanted),
        Some(Value::Array(values)) => values.iter().any(|v| v.as_str() == Some(wanted.as_str())),
        _ => false,
    })
}

async fn apply_admin_claim<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &OidcSettings,
    asserted: &Asserted,
    account: user::Model,
) -> AppResult<user::Model> {
    let Some(wanted) = admin_by_claim(settings, &asserted.claims) else {
        return Ok(account);
    };
    if account.is_admin == wanted {
        return Ok(account);
    }
    let before = account.is_admin;
    let account = users::set_admin(db, account, wanted).await?;
    let claim = settings.admin_claim.clone().unwrap_or_default();
    // The provider made this change: the account itself stands as the actor, and the
    // `source` says where the decision came from.
    admin_audit::record(
        db,
        Change {
            admin_user_id: account.id,
            action: if wanted {
                "user.make_admin"
            } else {
                "user.unmake_admin"
            },
            target_type: "user",
            target_id: account.id.to_string(),
            before: json!({"email": account.email, "is_admin": before}),
            after: json!({
                "email": account.email,
                "is_admin": wanted,
                "source": format!("campus sign-in claim `{claim}`"),
                "iss": asserted.iss,
                "sub": asserted.sub,
            }),
        },
    )
    .await?;
    tracing::info!(
        user.id = account.id,
        is_admin = wanted,
        "campus sign-in: administrator role follows the claim"
    );
    Ok(account)
}

/// The campus identity of account `user_id` (its most recently used one), for connectors.
pub async fn identity_of(db: &DatabaseConnection, user_id: i64) -> AppResult<Option<UserIdentity>> {
    Ok(user_identities::for_user(db, user_id)
        .await?
        .into_iter()
        .next()
        .map(|i| UserIdentity {
            issuer: i.iss,
            subject: i.sub,
        }))
}

/// A one-time sign-in link token for the active account with `email` (the break-glass way
/// in when passwords are switched off); the token is shown once, only its hash is kept.
pub async fn issue_signin_link(db: &DatabaseConnection, email: &str) -> AppResult<String> {
    let account = users::find_by_email(db, email)
        .await?
        .ok_or(AppError::NotFound)?;
    refuse_inactive(&account)?;
    let token = random_token(32);
    signin_links::insert(
        db,
        sha256_hex(&token),
        account.id,
        Utc::now() + SIGNIN_LINK_VALIDITY,
    )
    .await?;
    tracing::info!(user.id = account.id, "one-time sign-in link issued");
    Ok(token)
}

/// Uses up sign-in link `token`: the active account it signs in, or `Gone`.
pub async fn redeem_signin_link(db: &DatabaseConnection, token: &str) -> AppResult<user::Model> {
    let link = signin_links::take(db, &sha256_hex(token))
        .await?
        .ok_or_else(|| {
            AppError::Gone(
            "This sign-in link was already used or has expired. Run `campuscore sso signin-link` \
             for a new one."
                .into(),
        )
        })?;
    let account = users::find(db, link.user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    refuse_inactive(&account)?;
    users::touch_last_login(db, account.id).await?;
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(claim: Option<&str>, value: Option<&str>) -> OidcSettings {
        OidcSettings {
            issuer: "https://login.campus.edu".into(),
            client_id: "campuscore".into(),
            client_secret: None,
            admin_claim: claim.map(str::to_owned),
            admin_value: value.map(str::to_owned),
            institution_name: "Campus".into(),
            link_existing_accounts: false,
        }
    }

    fn claims(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_admin_claim_is_read_as_a_list_a_string_or_space_separated_roles() {
        let s = settings(Some("groups"), Some("it-admins"));
        for (given, admin) in [
            (json!({"groups": ["staff", "it-admins"]}), true),
            (json!({"groups": ["staff"]}), false),
            (json!({"groups": "it-admins"}), true),
            (json!({"groups": "staff it-admins"}), true),
            (json!({"groups": "it-admins-old"}), false),
            (json!({"groups": [1, {"x": "it-admins"}]}), false),
            (json!({"roles": ["it-admins"]}), false),
            (json!({}), false),
        ] {
            assert_eq!(
                admin_by_claim(&s, &claims(given.clone())),
                Some(admin),
                "{given}"
            );
        }
        // Without a configured claim, sign-in leaves roles alone.
        let unset = settings(None, None);
        assert_eq!(
            admin_by_claim(&unset, &claims(json!({"groups": ["it-admins"]}))),
            None
        );
    }
}
