//! `/oauth/authorize`: where a person lets an assistant (an MCP client) use their account.
//! GET checks the request (`services::mcp_authorize`), sends a logged-out browser to the
//! login page and back, and shows the consent page; POST (CSRF-protected, same session)
//! records the decision and sends the browser back to the assistant.
//!
//! Both take the user from the browser session only: a request carrying an
//! `Authorization` header is refused, so no token can stand in for the person deciding.

use super::account::html;
use crate::auth::MaybeUser;
use crate::error::{AppError, AppResult};
use crate::models::McpClientKind;
use crate::services::mcp_authorize::{self, AuthorizationParams, Refusal, ValidRequest};
use crate::services::mcp_clients;
use crate::state::AppState;
use crate::templates::PageCtx;
use crate::templates::mcp::ConsentPage;
use actix_session::Session;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use url::Url;

/// Refuses a request that brings its own credentials instead of the browser session.
fn session_only(req: &HttpRequest) -> AppResult<()> {
    if req.headers().contains_key(header::AUTHORIZATION) {
        return Err(AppError::BadRequest(
            "Open this page in your browser, signed in to CampusCore.".into(),
        ));
    }
    Ok(())
}

/// A checked request, or the answer to a refused one: an error page before the redirect
/// URI is trusted, a redirect back to the assistant after.
async fn checked(
    state: &AppState,
    params: Result<AuthorizationParams, String>,
) -> AppResult<Result<ValidRequest, HttpResponse>> {
    let params = params.map_err(AppError::BadRequest)?;
    match mcp_authorize::check(state, params).await? {
        Ok(request) => Ok(Ok(request)),
        Err(Refusal::Page(message)) => Err(AppError::BadRequest(message)),
        Err(Refusal::Redirect(location)) => Ok(Err(HttpResponse::Found()
            .insert_header((header::LOCATION, location))
            .finish())),
    }
}

/// `GET /oauth/authorize`: the consent page.
pub async fn authorize_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
) -> AppResult<HttpResponse> {
    session_only(&req)?;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let params =
        AuthorizationParams::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let request = match checked(&state, params).await? {
        Ok(request) => request,
        Err(answer) => return Ok(answer),
    };
    let Some(user) = user.0 else {
        let here = req.uri().path_and_query().map_or("/", |p| p.as_str());
        return Ok(super::see_other(
            &crate::paths::login().next(here).to_string(),
        ));
    };
    let page = ConsentPage {
        ctx: PageCtx::new(&session, Some(&user)),
        client_name: request.client.name.clone(),
        client_host: mcp_clients::client_host(&request.client),
        verified: request.client.kind == McpClientKind::Cimd,
        redirect_to: mcp_clients::redirect_destination(&request.redirect_uri),
        connections: mcp_authorize::consent_connections(&state.db, user.id).await?,
        write_requested: request.requested.write,
        hidden: request.params.pairs(),
    };
    let mut res = html(page, 200);
    // The form's answer redirects to the assistant: browsers hold that redirect to the
    // page's `form-action`, so this page names the assistant's address there too.
    if let Some(csp) = consent_csp(&request.redirect_uri)
        && let Ok(value) = header::HeaderValue::from_str(&csp)
    {
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    Ok(res)
}

/// The site's CSP with the redirect URI's origin (or an app's scheme) added to
/// `form-action`. IPv6 hosts cannot be written in a CSP source, so they add their scheme.
fn consent_csp(redirect_uri: &str) -> Option<String> {
    let url = Url::parse(redirect_uri).ok()?;
    let source = match url.scheme() {
        "http" | "https" if matches!(url.host(), Some(url::Host::Ipv6(_))) => {
            format!("{}:", url.scheme())
        }
        "http" | "https" => url.origin().ascii_serialization(),
        scheme => format!("{scheme}:"),
    };
    Some(super::errors::CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {source}"),
    ))
}

/// `POST /oauth/authorize`: Allow or Deny, then back to the assistant.
pub async fn authorize_decision(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    session_only(&req)?;
    let user = user.0.ok_or(AppError::Unauthenticated)?;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let params =
        AuthorizationParams::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let request = match checked(&state, params).await? {
        Ok(request) => request,
        Err(answer) => return Ok(answer),
    };
    let allowed = field(&pairs, "decision").any(|v| v == "allow");
    let location = if allowed {
        let write = field(&pairs, "write").any(|v| v == "on");
        let chosen = field(&pairs, "connection")
            .filter_map(|v| v.parse().ok())
            .collect();
        mcp_authorize::approve(&state.db, &state.settings, &request, user.id, write, chosen).await?
    } else {
        mcp_authorize::deny(&state.settings, &request)
    };
    // 303: the browser must not post the form again to the assistant (OAuth 2.1 §7.5.2).
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish())
}

/// The values of form field `name`.
fn field<'a>(pairs: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    pairs
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::consent_csp;

    #[test]
    fn the_consent_page_may_send_its_form_on_to_the_assistant() {
        let csp = consent_csp("http://127.0.0.1:8123/callback?x=1").unwrap_or_default();
        assert!(
            csp.ends_with("form-action 'self' http://127.0.0.1:8123"),
            "{csp}"
        );
        assert!(csp.contains("script-src 'self';"), "{csp}");
        let csp = consent_csp("com.example.app:/cb").unwrap_or_default();
        assert!(
            csp.ends_with("form-action 'self' com.example.app:"),
            "{csp}"
        );
        let csp = consent_csp("http://[::1]:9/cb").unwrap_or_default();
        assert!(csp.ends_with("form-action 'self' http:"), "{csp}");
    }
}
