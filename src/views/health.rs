//! `/healthz` (the process answers) and `/readyz` (database reachable, storage writable).

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
    let storage = state
        .storage
        .check_writable()
        .await
        .map_err(|e| format!("{e:#}"));
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
