//! Setup link, login, logout, sessions, CSRF.

use crate::helpers::{client, csrf_from, location, spawn_app};
use campuscore::auth::session_store::end_all_sessions;
use campuscore::models::entities::{setup_token, user};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

fn token_of(link: &str) -> String {
    link.rsplit('/').next().expect("token").to_owned()
}

#[tokio::test]
async fn the_setup_link_creates_the_first_admin_once_and_then_is_dead() {
    let app = spawn_app().await;
    let link = app.announce_setup_link().await;
    let path = format!("/setup/{}", token_of(&link));

    let page = app.get(&path).await;
    assert_eq!(page.status(), 200);
    let token = csrf_from(&page.text().await.expect("body"));

    let res = app
        .client
        .post(app.url(&path))
        .form(&[
            ("email", "admin@campus.edu"),
            ("password", "a long enough password"),
            ("password_confirm", "different password"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("The passwords do not match.")
    );
    assert_eq!(
        campuscore::models::users::count(&app.state.db)
            .await
            .expect("count"),
        0,
        "nothing was created"
    );

    let res = app
        .client
        .post(app.url(&path))
        .form(&[
            ("email", "admin@campus.edu"),
            ("password", "a long enough password"),
            ("password_confirm", "a long enough password"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin/");
    assert_eq!(
        app.get("/admin/").await.status(),
        200,
        "the new admin is logged in"
    );

    let again = app.other_browser().get(&path).await;
    assert_eq!(again.status(), 410);
    assert!(
        again
            .text()
            .await
            .expect("body")
            .contains("already been used")
    );
    assert!(
        app.announce_setup_link_opt().await.is_none(),
        "no link once an account exists"
    );
}

#[tokio::test]
async fn an_expired_or_unknown_setup_link_is_refused_with_a_clear_page() {
    let app = spawn_app().await;
    let link = app.announce_setup_link().await;
    setup_token::Entity::update_many()
        .col_expr(
            setup_token::Column::ExpiresAt,
            Expr::value(Utc::now() - chrono::Duration::minutes(1)),
        )
        .exec(&app.state.db)
        .await
        .expect("expire");
    let res = app.get(&format!("/setup/{}", token_of(&link))).await;
    assert_eq!(res.status(), 410);
    assert!(res.text().await.expect("body").contains("expired"));
    assert_eq!(app.get("/setup/not-a-real-token").await.status(), 404);
}

#[tokio::test]
async fn a_wrong_password_gets_a_message_and_no_session() {
    let app = spawn_app().await;
    app.create_user("ana@campus.edu", "a long enough password", false)
        .await;
    let res = app.login("ana@campus.edu", "wrong password here").await;
    assert_eq!(res.status(), 401);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("The email or password is not correct.")
    );
    let res = app.login("nobody@campus.edu", "wrong password here").await;
    assert_eq!(res.status(), 401);
    let home = app.get("/").await;
    assert_eq!(home.status(), 303);
    assert!(location(&home).starts_with("/login"));
}

#[tokio::test]
async fn a_password_hashed_with_older_parameters_signs_in_and_is_stored_again_with_todays() {
    use campuscore::models::entities::user;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let app = spawn_app().await;
    let ana = app
        .create_user("ana@campus.edu", "a long enough password", false)
        .await;
    // What earlier versions stored: Argon2id with the crate's default m = 19 MiB, t = 2.
    let old = "$argon2id$v=19$m=19456,t=2,p=1$Y2FtcHVzY29yZXNhbHQxNg$bxmVAI38yyPdVjCWsYfoWIlZyqdf6rgkJ9SqvGmbLVs";
    let mut row: user::ActiveModel = ana.clone().into();
    row.password_hash = Set(old.to_owned());
    row.update(&app.state.db).await.expect("store the old hash");
    let stored = || async {
        user::Entity::find_by_id(ana.id)
            .one(&app.state.db)
            .await
            .expect("read the user")
            .expect("the user")
            .password_hash
    };

    // A wrong password changes nothing.
    assert_eq!(
        app.login("ana@campus.edu", "not the password at all")
            .await
            .status(),
        401
    );
    assert_eq!(stored().await, old);

    let res = app.login("ana@campus.edu", "a long enough password").await;
    assert_eq!(res.status(), 303, "the old hash still signs in");
    let upgraded = stored().await;
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"),
        "{upgraded}"
    );

    // And the new hash is the same password.
    app.post_form("/logout", "/", &[]).await;
    let res = app.login("ana@campus.edu", "a long enough password").await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        stored().await,
        upgraded,
        "a current hash is not stored again"
    );
}

#[tokio::test]
async fn logout_ends_the_session_even_for_a_copied_cookie() {
    let app = spawn_app().await;
    app.logged_in_user("ben@campus.edu").await;
    assert_eq!(app.get("/").await.status(), 200);

    // Keep a copy of the session cookie, as an attacker who stole it would.
    let cookie_header = {
        let res = app.get("/").await;
        assert_eq!(res.status(), 200);
        app.session_cookie().await
    };
    let res = app.post_form("/logout", "/", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.get("/").await.status(), 303, "logged out");

    let replay = client()
        .get(app.url("/"))
        .header("Cookie", cookie_header)
        .send()
        .await
        .expect("replay");
    assert_eq!(replay.status(), 303, "the old cookie no longer works");
}

#[tokio::test]
async fn deactivating_an_account_ends_its_sessions_at_once() {
    let app = spawn_app().await;
    let u = app.logged_in_user("cho@campus.edu").await;
    assert_eq!(app.get("/").await.status(), 200);
    user::Entity::update_many()
        .col_expr(user::Column::IsActive, Expr::value(false))
        .filter(user::Column::Id.eq(u.id))
        .exec(&app.state.db)
        .await
        .expect("deactivate");
    end_all_sessions(&app.state.db, u.id)
        .await
        .expect("end sessions");
    assert_eq!(app.get("/").await.status(), 303);
    let res = app.login("cho@campus.edu", "a long enough password").await;
    assert_eq!(res.status(), 401, "a deactivated account cannot log in");
}

#[tokio::test]
async fn state_changing_requests_without_the_csrf_token_are_refused() {
    let app = spawn_app().await;
    app.logged_in_user("dee@campus.edu").await;
    let token = app.csrf("/knowledge-folders/").await;

    let res = app
        .client
        .post(app.url("/knowledge-folders/"))
        .form(&[("name", "No token")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403);
    assert!(res.text().await.expect("body").contains("Reload the page"));

    let res = app
        .client
        .post(app.url("/knowledge-folders/"))
        .form(&[("name", "Wrong"), ("csrf_token", "nope")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403);

    let res = app
        .client
        .post(app.url("/knowledge-folders/"))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", "wrong")
        .form(&[("name", "Htmx")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.headers()
            .get("HX-Retarget")
            .and_then(|v| v.to_str().ok()),
        Some("#htmx-errors")
    );
    assert!(res.text().await.expect("body").contains("flash-error"));

    let res = app
        .client
        .post(app.url("/knowledge-folders/"))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &token)
        .form(&[("name", "Htmx ok")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 303);
    let folders = campuscore::models::folders::list_for_user(&app.state.db, 1)
        .await
        .expect("list");
    assert_eq!(
        folders.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        vec!["Htmx ok"],
        "only the valid request changed anything"
    );

    // A login form posted from elsewhere (no session token) is refused too.
    let res = client()
        .post(app.url("/login"))
        .form(&[
            ("email", "dee@campus.edu"),
            ("password", "a long enough password"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn a_login_link_cannot_send_the_user_to_another_site() {
    let app = spawn_app().await;
    app.create_user("ada@campus.edu", "a long enough password", false)
        .await;
    for next in [
        "/%09/evil.example",
        "/\t/evil.example",
        "/%5Cevil.example",
        "//evil.example",
        "/%2F%2Fevil.example",
    ] {
        let browser = app.other_browser();
        let res = browser
            .post_form(
                "/login",
                "/login",
                &[
                    ("email", "ada@campus.edu"),
                    ("password", "a long enough password"),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/", "{next:?}");
        // Already logged in, the login page's own redirect follows the same rule.
        let url = format!("{}?next={}", app.url("/login"), urlencode(next));
        let res = browser.client.get(url).send().await.expect("request");
        assert_eq!(location(&res), "/", "{next:?}");
    }
    assert_eq!(
        app.login("ada@campus.edu", "a long enough password")
            .await
            .status(),
        303
    );
    let res = app
        .client
        .get(app.url("/login?next=%2Fknowledge-folders%2F"))
        .send()
        .await
        .expect("request");
    assert_eq!(location(&res), "/knowledge-folders/");
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn session_rows(app: &crate::helpers::TestApp) -> u64 {
    use sea_orm::PaginatorTrait;
    campuscore::models::entities::session::Entity::find()
        .count(&app.state.db)
        .await
        .expect("count sessions")
}

#[tokio::test]
async fn anonymous_visits_write_no_session_rows_yet_login_keeps_its_csrf_check() {
    let app = spawn_app().await;
    app.create_user("eve@campus.edu", "a long enough password", false)
        .await;

    // Many anonymous visitors: the login page (which hands out a CSRF token), a 404, the
    // home page's redirect. None of them costs a row.
    for _ in 0..5 {
        let visitor = app.other_browser();
        assert_eq!(visitor.get("/login").await.status(), 200);
        assert_eq!(visitor.get("/no/such/page").await.status(), 404);
        assert_eq!(visitor.get("/").await.status(), 303);
    }
    assert_eq!(session_rows(&app).await, 0, "anonymous visits wrote rows");

    // The login form's token lives in the visitor's cookie: without it, or with another
    // visitor's token, the post is refused; with its own it signs in, and only now is there
    // a row.
    let page = app.get("/login").await.text().await.expect("body");
    let token = csrf_from(&page);
    let stranger = app.other_browser();
    let res = stranger
        .client
        .post(stranger.url("/login"))
        .form(&[
            ("email", "eve@campus.edu"),
            ("password", "a long enough password"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(
        res.status(),
        403,
        "a token is only good with its own cookie"
    );
    assert_eq!(session_rows(&app).await, 0);

    let res = app.login("eve@campus.edu", "a long enough password").await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.get("/").await.status(), 200, "signed in");
    assert_eq!(session_rows(&app).await, 1, "signing in made the one row");

    // Logging out deletes it; the browser is anonymous again, without a row.
    let res = app.post_form("/logout", "/", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.get("/login").await.status(), 200);
    assert_eq!(session_rows(&app).await, 0);
}
