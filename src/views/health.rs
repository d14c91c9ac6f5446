//! `/healthz` (the process answers) and `/readyz` (database reachable, storage writable: a
//! write probe at most every 30 s, see `Storage::readiness`). `/readyz` answers within
//! [`READY_WITHIN`] even when the database does not: a load balancer asking it must learn at
//! once that this instance cannot serve, not after the pool's wait.

use crate::state::AppState;
use actix_web::{HttpResponse, web};
use sea_orm::ConnectionTrait;
use serde_json::json;
use std::time::Duration;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The longest the database check of `/readyz` waits.
const READY_WITHIN: Duration = Duration::from_secs(1);

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = match tokio::time::timeout(READY_WITHIN, state.db.execute_unprepared("SELECT 1")).await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {READY_WITHIN:?}")),
    };
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
