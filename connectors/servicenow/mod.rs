//! `servicenow`: a campus ServiceNow instance through its Table API — incidents (list mine,
//! read with comments, report, update a few fields, comment or work-note), knowledge
//! (search, read, and articles into knowledge folders through cloud import), the service
//! catalog, request status and a user lookup — signed in through the instance's OAuth
//! Application Registry. The instance's ACLs decide what each user sees (upstream scoping).
//!
//! - `connector.rs`: the spec (sign-in on the instance's host) and the identity;
//! - `query.rs`: the one encoded-query builder, which no user text can widen;
//! - `api.rs`: Table API requests, paging, and ServiceNow's errors as decisions;
//! - `wire.rs`: rows read with `sysparm_display_value=all`; `models.rs`: what actions
//!   return; `inputs.rs`: validated inputs;
//! - `actions.rs`: the actions and the `FileSource`; `knowledge.rs`: knowledge as a drive;
//!   `requests.rs`: request status.

mod actions;
mod api;
mod connector;
mod inputs;
mod knowledge;
mod models;
mod query;
#[cfg(test)]
mod query_properties;
mod requests;
#[cfg(test)]
mod tests;
mod wire;

inventory::submit! {
    crate::ConnectorRegistration::of::<connector::ServiceNow>()
}
