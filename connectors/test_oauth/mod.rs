//! `test-oauth`: an OAuth 2.0 connector for any standards-compliant authorization server,
//! compiled only with the `testing` feature. The app's end-to-end tests point it at a real
//! OpenID Connect provider on loopback (npm `oidc-provider`) to exercise the connect flow,
//! token refresh and revocation exactly as a production connector would meet them.

mod actions;
mod connector;

inventory::submit! {
    crate::ConnectorRegistration::of::<connector::TestOAuthConnector>()
}
