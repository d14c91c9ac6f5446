//! `/healthz` (the process answers) and `/readyz` (database reachable, storage writable: a
//! write probe at most every 30 s, see `Storage::readiness`).

use crate::state::AppState;
use actix_web::{HttpResponse, web};
use sea_orm::ConnectionTrait;
use serde_json::json;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = state
        .db
        .execute_unprepared("SELECT 1")
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    let storage = state.storage.readiness().await;
    let check = |r: &Result<(), String>| match r {
        Ok(()) => json!({ "ok": true }),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            json!({ "ok": false, "error": "unavailable" })
        }
    };
    let body = json!({ "database": check(&db), "storage": check(&storage) });
    if db.is_ok() && storage.is_ok() {
        HttpResponse::Ok().json(json!({ "status": "ready", "checks": body }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({ "status": "unavailable", "checks": body }))
    }
}
