//! `campuscore-fakes`: a fake Google Drive and a fake OneDrive (Microsoft Graph) with sample
//! files, each behind an OAuth server that approves at once, and a fake Canvas LMS with a
//! sample course, for clicking through connect → browse → import without a Google,
//! Microsoft or Canvas account. Prints the URLs and the
//! `campuscore config set` commands to paste, then runs until Ctrl-C.

use campuscore_testkit::fakes::{Fakes, Options};
use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let fakes = Fakes::start(&options)?;
    let servers = [
        ("Fake Google Drive", fakes.drive.base_url()),
        ("Google OAuth (auto-approves)", fakes.google.base_url()),
        ("Fake OneDrive (Graph)", fakes.graph.base_url()),
        (
            "Microsoft OAuth (auto-approves)",
            fakes.microsoft.base_url(),
        ),
        ("Fake Canvas (sign-in approves)", fakes.canvas.base_url()),
        ("Fake Canvas file store", fakes.canvas.file_store_url()),
    ];
    for (name, url) in servers {
        println!("{name:<32} {url}");
    }
    println!();
    println!("Point campuscore at them (from the directory you run `campuscore serve` in):");
    println!();
    print!("{}", fakes.config_commands());
    println!();
    println!("Then connect Google Drive, OneDrive or Canvas LMS in campuscore: the sign-in comes");
    println!("straight back approved. Ctrl-C stops the fakes (files and tokens are not kept).");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
