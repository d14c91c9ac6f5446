//! `test-echo`: a connector that talks to nothing real, compiled only with the `testing`
//! feature. It gives the app's tests every shape an action can take — JSON in and out,
//! each error decision, an upstream call with token refresh, paging, a streamed download
//! and a destructive action — without a real service.

mod actions;
mod connector;
#[cfg(test)]
mod tests;

inventory::submit! {
    crate::ConnectorRegistration::of::<connector::EchoConnector>()
}
