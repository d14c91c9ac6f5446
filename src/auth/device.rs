//! Remembered devices: a browser that signed in to an account gets a signed cookie naming a
//! random device id and the account (by its throttle subject, a hash). Its later sign-ins to
//! that account are throttled as that device rather than as the account, so guesses from
//! elsewhere cannot lock its owner out (`services::login_throttle`).

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time::Duration};

/// How long a browser stays remembered after its last sign-in.
const REMEMBER_DAYS: i64 = 180;

fn name(secure: bool) -> &'static str {
    if secure {
        "__Host-campuscore_device"
    } else {
        "campuscore_device"
    }
}

/// The device id of this browser, when its cookie is signed with `key` and names
/// `account_subject`.
pub fn known(req: &HttpRequest, key: &Key, secure: bool, account_subject: &str) -> Option<String> {
    let cookie = req.cookie(name(secure))?;
    let mut jar = CookieJar::new();
    jar.add_original(cookie);
    let verified = jar.signed(key).get(name(secure))?;
    let (device, account) = verified.value().split_once(':')?;
    (account == account_subject && !device.is_empty()).then(|| device.to_owned())
}

/// The cookie that remembers this browser for `account_subject`, keeping its device id when
/// it has one.
pub fn remember(
    key: &Key,
    secure: bool,
    device: Option<&str>,
    account_subject: &str,
) -> Option<Cookie<'static>> {
    let device = device.map_or_else(|| crate::crypto::random_token(16), str::to_owned);
    let cookie = Cookie::build(name(secure), format!("{device}:{account_subject}"))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(Duration::days(REMEMBER_DAYS))
        .finish();
    let mut jar = CookieJar::new();
    jar.signed_mut(key).add(cookie);
    jar.get(name(secure)).cloned()
}
