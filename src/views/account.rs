//! Logging in and out, and the one-time setup link that creates the first admin.

use crate::auth::{MaybeUser, csrf, device, keys};
use crate::crypto::password;
use crate::error::{AppError, AppResult};
use crate::models::entities::user;
use crate::models::users;
use crate::services::{login_throttle, setup};
use crate::state::AppState;
use crate::templates::{LoginOptions, LoginPage, PageCtx, SetupPage, flash};
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login_page(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    q: web::Query<NextQuery>,
) -> AppResult<HttpResponse> {
    if user.0.is_some() {
        return Ok(super::see_other(super::safe_next(&q.next)));
    }
    let page = LoginPage {
        ctx: PageCtx::new(&session, None),
        email: String::new(),
        next: q.next.clone(),
        error: None,
        options: LoginOptions::of(&state.settings),
    };
    Ok(html(page, 200))
}

pub async fn login(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    if !state.settings.local_login {
        let institution = state
            .settings
            .oidc
            .as_ref()
            .map(|o| o.institution_name.as_str())
            .unwrap_or_default();
        let page = LoginPage {
            ctx: PageCtx::new(&session, None),
            email: String::new(),
            next: form.next,
            error: Some(format!(
                "Passwords are switched off on this site. Sign in with {institution}."
            )),
            options: LoginOptions::of(&state.settings),
        };
        return Ok(html(page, 403));
    }
    let secure = state.settings.secure_cookies();
    let account = login_throttle::account_subject(&form.email);
    let device = device::known(&req, &state.cookie_key, secure, &account);
    // A browser that signed in to this account before is throttled on its own; any other
    // on the account's count (see services::login_throttle).
    let subject = device
        .as_deref()
        .map_or_else(|| account.clone(), login_throttle::device_subject);
    let policy = state.settings.login_policy();
    if let Some(wait) = login_throttle::locked(&state.db, &subject, Utc::now()).await? {
        return Ok(locked_out(&state, &session, form, wait));
    }
    let found = users::find_by_email(&state.db, &form.email).await?;
    let verdict = match &found {
        Some(u) => password::check(&form.password, &u.password_hash).await,
        None => {
            password::verify_dummy(&form.password).await;
            password::Verdict::Wrong
        }
    };
    let ok = verdict.matches() && found.as_ref().is_some_and(|u| u.is_active);
    let Some(user) = found.filter(|_| ok) else {
        tracing::info!("failed login attempt");
        if let Some(wait) = login_throttle::failed(&state.db, &subject, &policy, Utc::now()).await?
        {
            return Ok(locked_out(&state, &session, form, wait));
        }
        let page = LoginPage {
            ctx: PageCtx::new(&session, None),
            email: form.email,
            next: form.next,
            error: Some("The email or password is not correct.".into()),
            options: LoginOptions::of(&state.settings),
        };
        return Ok(html(page, 401));
    };
    login_throttle::succeeded(&state.db, &subject).await?;
    if verdict == password::Verdict::Upgrade {
        upgrade_password_hash(&state, &user, &form.password).await;
    }
    start_session(&state, &session, &user).await?;
    let mut res = super::see_other(super::safe_next(&form.next));
    if let Some(cookie) = device::remember(&state.cookie_key, secure, device.as_deref(), &account) {
        res.add_cookie(&cookie)
            .map_err(|e| anyhow::anyhow!("device cookie: {e}"))?;
    }
    Ok(res)
}

/// Stores the password again with today's hashing parameters. A failure costs nothing but
/// the upgrade (the old hash still works), so it is logged, not shown.
async fn upgrade_password_hash(state: &AppState, user: &user::Model, password: &str) {
    let upgraded = match password::hash(password).await {
        Ok(new) => users::upgrade_password_hash(&state.db, user.id, &user.password_hash, &new)
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    match upgraded {
        Ok(true) => tracing::info!(user.id = user.id, "password hash upgraded"),
        Ok(false) => {}
        Err(e) => tracing::warn!(
            user.id = user.id,
            error.chain = format!("{e:#}"),
            "upgrading the password hash failed"
        ),
    }
}

/// The login page, refusing for `wait`: 429 with `Retry-After`. The same for every email,
/// registered or not.
fn locked_out(
    state: &AppState,
    session: &Session,
    form: LoginForm,
    wait: std::time::Duration,
) -> HttpResponse {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    let when = if minutes == 1 {
        "a minute".to_owned()
    } else {
        format!("{minutes} minutes")
    };
    let page = LoginPage {
        ctx: PageCtx::new(session, None),
        email: form.email,
        next: form.next,
        error: Some(format!(
            "Too many failed sign-ins to this account. Try again in {when}, or from a browser \
             you have signed in with before."
        )),
        options: LoginOptions::of(&state.settings),
    };
    let mut res = html(page, 429);
    res.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(wait.as_secs().max(1)),
    );
    res
}

/// Log `user` in on a fresh session id (no fixation) with a fresh CSRF token.
pub(super) async fn start_session(
    state: &AppState,
    session: &Session,
    user: &user::Model,
) -> AppResult<()> {
    session.renew();
    session
        .insert(keys::USER_ID, user.id)
        .map_err(|e| anyhow::anyhow!("session: {e}"))?;
    csrf::rotate(session);
    users::touch_last_login(&state.db, user.id).await?;
    tracing::info!(user.id = user.id, "logged in");
    Ok(())
}

pub async fn logout(state: web::Data<AppState>, session: Session) -> impl Responder {
    let login = crate::paths::login().to_string();
    // A campus session ends at the identity provider too, when its metadata says how
    // (RP-initiated logout); the provider sends the browser back to our login page.
    let to = match session.get::<bool>(keys::SSO) {
        Ok(Some(true)) => state
            .sso
            .end_session_url(&state.settings.absolute_url(&login))
            .await
            .unwrap_or(login),
        _ => login,
    };
    session.purge();
    super::see_other(&to)
}

#[derive(Deserialize)]
pub struct SetupForm {
    email: String,
    password: String,
    password_confirm: String,
}

pub async fn setup_page(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
) -> AppResult<HttpResponse> {
    setup::check(&state.db, &token).await?;
    let page = SetupPage {
        ctx: PageCtx::new(&session, None),
        token: token.into_inner(),
        email: String::new(),
        errors: BTreeMap::new(),
    };
    Ok(html(page, 200))
}

pub async fn setup(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    form: web::Form<SetupForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    let token = token.into_inner();
    let result = if form.password != form.password_confirm {
        let mut e = BTreeMap::new();
        e.insert(
            "password_confirm".to_owned(),
            "The passwords do not match.".to_owned(),
        );
        Err(AppError::Invalid(e))
    } else {
        setup::complete(&state.db, &token, &form.email, &form.password).await
    };
    match result {
        Ok(admin) => {
            start_session(&state, &session, &admin).await?;
            flash(&session, "success", "Your administrator account is ready.");
            Ok(super::see_other(crate::paths::admin()))
        }
        Err(AppError::Invalid(errors)) => {
            let page = SetupPage {
                ctx: PageCtx::new(&session, None),
                token,
                email: form.email,
                errors,
            };
            Ok(html(page, 422))
        }
        Err(e) => Err(e),
    }
}

/// Render a template with a status (for forms re-rendered with their errors).
pub fn html(t: impl Template, status: u16) -> HttpResponse {
    html_sized(t, status, 0)
}

/// [`html`] into a buffer of at least `capacity` bytes: for a page whose size the caller can
/// foresee (a listing of many rows), which saves the buffer growing by doubling, each time
/// copying what it holds.
pub fn html_sized<T: Template>(t: T, status: u16, capacity: usize) -> HttpResponse {
    let mut body = String::with_capacity(capacity.max(T::SIZE_HINT));
    match t.render_into(&mut body).map(|()| body) {
        Ok(body) => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::OK),
        )
        .content_type("text/html; charset=utf-8")
        .body(body),
        Err(e) => AppError::Internal(anyhow::anyhow!("template: {e}")).into(),
    }
}

impl From<AppError> for HttpResponse {
    fn from(e: AppError) -> Self {
        actix_web::ResponseError::error_response(&e)
    }
}
