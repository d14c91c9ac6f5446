//! The closing line of a `cargo test` run: every suite that skipped because a test peer was
//! missing (see `campuscore_test_peers`), or `skipped suites: none`.

fn main() {
    println!("{}", campuscore_test_peers::summary_line());
}
