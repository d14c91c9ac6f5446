//! The command line (DESIGN §3): serve, migrate, createuser, config, connectors, keys, token,
//! sso.

use crate::config::Settings;
use crate::models::users;
use crate::services::api_tokens::{self, NewToken, Scope};
use crate::services::{catalog, connector_config, oidc, oidc_accounts, rotation, secrets::Keyring};
use crate::startup::{Application, prepare};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::io::Read;

/// No `Debug` on the commands: a password or a secret value given on the command line is
/// never printed, not even in a panic message.
#[derive(Parser)]
#[command(name = "campuscore", version, about = "The campus connector platform")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Migrate, sync the connector catalog, and serve the web app with its workers.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8000")]
        bind: String,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Create a local account.
    Createuser {
        #[arg(long)]
        email: String,
        #[arg(long, conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password from standard input (keeps it out of the process list).
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        admin: bool,
    },
    /// Admin connector configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// List registered connectors, their kind, scoping and actions.
    Connectors,
    /// Fernet key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Personal access tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Campus sign-in (OpenID Connect).
    Sso {
        #[command(subcommand)]
        command: SsoCommand,
    },
}

#[derive(Subcommand)]
pub enum SsoCommand {
    /// Store the client secret the identity provider issued (Fernet-encrypted in the
    /// database; `CAMPUSCORE_OIDC_CLIENT_SECRET`, when set, takes precedence).
    SetClientSecret {
        #[arg(
            required_unless_present = "value_stdin",
            conflicts_with = "value_stdin"
        )]
        value: Option<String>,
        /// Read the secret from standard input (one line; the newline is dropped).
        #[arg(long)]
        value_stdin: bool,
    },
    /// Print a one-time sign-in link for an account (valid 15 minutes): the break-glass way
    /// in when passwords are switched off or the identity provider is down.
    SigninLink {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Set KEY to VALUE for a connector (declared secrets are always encrypted). With
    /// `--value-stdin` the value is read from standard input instead, so a secret never
    /// appears in the shell's history or the process list.
    Set {
        slug: String,
        key: String,
        #[arg(
            required_unless_present = "value_stdin",
            conflicts_with = "value_stdin"
        )]
        value: Option<String>,
        #[arg(long)]
        secret: bool,
        /// Read the value from standard input (one line; the newline is dropped).
        #[arg(long)]
        value_stdin: bool,
    },
    /// Show a connector's configuration (secrets masked).
    List { slug: String },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Print a new Fernet key.
    Generate,
    /// Re-encrypt every secret with the first key of FERNET_KEYS.
    Rotate,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a personal access token (printed once, alone on the last line).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// What it may be used for: `api` (the JSON API), `mcp` (the MCP endpoint), or both.
        #[arg(long, default_value = "api")]
        scope: String,
        /// Days until it expires.
        #[arg(long, default_value_t = api_tokens::DEFAULT_DAYS)]
        expires_days: u32,
    },
    /// List an account's tokens (never the tokens themselves).
    List {
        #[arg(long)]
        email: String,
    },
    /// Revoke token ID (as `token list` shows it); it stops working at once.
    Revoke { id: i64 },
}

/// Run one command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Keys {
        command: KeysCommand::Generate,
    } = cli.command
    {
        println!("{}", Keyring::generate_key());
        return Ok(());
    }
    let settings = Settings::from_env()?;
    match cli.command {
        Command::Serve { bind } => {
            let mut settings = settings;
            if !settings.base_url_configured {
                // Links (setup, OAuth redirects) should point where we actually listen.
                settings.base_url = url::Url::parse(&format!("http://{bind}"))
                    .with_context(|| format!("--bind {bind} is not host:port"))?;
            }
            let app = Application::build(settings, &bind).await?;
            tracing::info!(http.addr = %bind, "campuscore listening on http://{bind}");
            app.announce_setup_link().await?;
            app.run_until_stopped().await
        }
        Command::Migrate => {
            let db = crate::db::connect(&settings.database_url).await?;
            crate::db::migrate(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Createuser {
            email,
            password,
            password_stdin,
            admin,
        } => {
            let password = match (password, password_stdin) {
                (Some(p), _) => p,
                (None, true) => {
                    let mut buf = String::new();
                    std::io::stdin()
                        .read_to_string(&mut buf)
                        .context("reading the password from stdin")?;
                    buf.trim_end_matches(['\r', '\n']).to_owned()
                }
                (None, false) => bail!("give --password or --password-stdin"),
            };
            let state = prepare(settings).await?;
            let user = users::create(&state.db, &email, &password, admin)
                .await
                .map_err(cli_error)?;
            println!(
                "created {} account {} (id {})",
                if admin { "admin" } else { "user" },
                user.email,
                user.id
            );
            Ok(())
        }
        Command::Config { command } => {
            let state = prepare(settings).await?;
            match command {
                ConfigCommand::Set {
                    slug,
                    key,
                    value,
                    secret,
                    value_stdin,
                } => {
                    let value = match value {
                        Some(value) if !value_stdin => value,
                        _ => {
                            let mut line = String::new();
                            std::io::stdin()
                                .read_line(&mut line)
                                .context("reading the value from standard input")?;
                            line.trim_end_matches(['\r', '\n']).to_owned()
                        }
                    };
                    let (row, plugin) = catalog::find(&state.db, &state.registry, &slug)
                        .await
                        .map_err(|_| unknown(&slug))?;
                    let shown = connector_config::set(
                        &state.db,
                        &state.keyring,
                        &row,
                        plugin.as_ref(),
                        &key,
                        &value,
                        secret,
                    )
                    .await
                    .map_err(cli_error)?;
                    println!(
                        "{slug} {} = {}{}",
                        shown.key,
                        shown.shown,
                        if shown.is_secret { " (secret)" } else { "" }
                    );
                }
                ConfigCommand::List { slug } => {
                    let (row, plugin) = catalog::find(&state.db, &state.registry, &slug)
                        .await
                        .map_err(|_| unknown(&slug))?;
                    let entries = connector_config::list(&state.db, &state.keyring, row.id)
                        .await
                        .map_err(cli_error)?;
                    for e in &entries {
                        println!(
                            "{} = {}{}",
                            e.key,
                            e.shown,
                            if e.is_secret { " (secret)" } else { "" }
                        );
                    }
                    let settings = connector_config::settings_for(
                        &state.db,
                        &state.keyring,
                        row.id,
                        plugin.as_ref(),
                    )
                    .await
                    .map_err(cli_error)?;
                    let missing = settings.missing_required();
                    if !missing.is_empty() {
                        println!("missing required: {}", missing.join(", "));
                    }
                }
            }
            Ok(())
        }
        Command::Connectors => {
            let state = prepare(settings).await?;
            for plugin in state.registry.iter() {
                let spec = plugin.spec();
                let kind = serde_json::to_value(spec.kind)?;
                let scoping = serde_json::to_value(spec.scoping)?;
                println!(
                    "{}  {}  kind={}  scoping={}",
                    spec.slug,
                    spec.name,
                    kind.as_str().unwrap_or(""),
                    scoping.as_str().unwrap_or("")
                );
                for a in plugin.actions() {
                    let tags: Vec<&str> = a.tags.iter().map(|t| t.as_str()).collect();
                    println!(
                        "    {:<20} [{}]  {}",
                        a.name,
                        tags.join(", "),
                        a.description.lines().next().unwrap_or("")
                    );
                }
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let state = prepare(settings).await?;
            println!(
                "rotating to key {} ({} key(s) configured)",
                state.keyring.primary_fingerprint(),
                state.keyring.len()
            );
            let report = rotation::rotate_all(&state.db, &state.keyring, None).await?;
            print!("{report}");
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Generate,
        } => unreachable!("handled above"),
        Command::Sso { command } => run_sso(settings, command).await,
        Command::Token { command } => {
            let state = prepare(settings).await?;
            token_command(&state.db, command).await
        }
    }
}

async fn token_command(
    db: &sea_orm::DatabaseConnection,
    command: TokenCommand,
) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            email,
            name,
            scope,
            expires_days,
        } => {
            let scopes = Scope::parse_list(&scope).map_err(|e| anyhow::anyhow!("--scope: {e}"))?;
            let user = users::find_by_email(db, &email)
                .await
                .map_err(cli_error)?
                .context("no account with that email")?;
            let new = NewToken {
                name: &name,
                scopes: &scopes,
                days: expires_days,
            };
            let (row, token) = api_tokens::create(db, user.id, new)
                .await
                .map_err(cli_error)?;
            println!(
                "personal access token {} for {} ({}; expires {}; shown once):",
                row.id,
                user.email,
                row.scopes,
                row.expires_at
                    .map_or_else(|| "never".into(), |t| t.format("%Y-%m-%d").to_string())
            );
            println!("{token}");
            Ok(())
        }
        TokenCommand::List { email } => {
            let (user, tokens) =
                api_tokens::list_by_email(db, &email)
                    .await
                    .map_err(|e| match e {
                        crate::error::AppError::NotFound => {
                            anyhow::anyhow!("no account with that email")
                        }
                        other => cli_error(other),
                    })?;
            println!("tokens of {} (revoked ones are not shown):", user.email);
            println!(
                "{:>6}  {:<24} {:<8} {:<11} {:<11} last used",
                "id", "name", "scopes", "created", "expires"
            );
            let day = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d").to_string())
            };
            for t in tokens {
                let expired = t.expires_at.is_some_and(|at| at <= chrono::Utc::now());
                println!(
                    "{:>6}  {:<24} {:<8} {:<11} {:<11} {}{}",
                    t.id,
                    t.name,
                    t.scopes,
                    day(Some(t.created_at)),
                    day(t.expires_at),
                    day(t.last_used_at),
                    if expired { "  (expired)" } else { "" }
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            api_tokens::revoke(db, None, id)
                .await
                .map_err(|e| match e {
                    crate::error::AppError::NotFound => {
                        anyhow::anyhow!("no live token with id {id}")
                    }
                    other => cli_error(other),
                })?;
            println!("token {id} revoked");
            Ok(())
        }
    }
}

/// `campuscore sso …`.
async fn run_sso(settings: Settings, command: SsoCommand) -> anyhow::Result<()> {
    let state = prepare(settings).await?;
    match command {
        SsoCommand::SetClientSecret { value, value_stdin } => {
            let value = match value {
                Some(value) if !value_stdin => value,
                _ => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the secret from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            if value.trim().is_empty() {
                bail!("the client secret is empty");
            }
            oidc::store_client_secret(&state.db, &state.keyring, &value)
                .await
                .map_err(cli_error)?;
            println!(
                "campus sign-in client secret stored (encrypted){}",
                if state
                    .settings
                    .oidc
                    .as_ref()
                    .is_some_and(|o| o.client_secret.is_some())
                {
                    "; CAMPUSCORE_OIDC_CLIENT_SECRET is set and takes precedence"
                } else {
                    ""
                }
            );
        }
        SsoCommand::SigninLink { email } => {
            let token = oidc_accounts::issue_signin_link(&state.db, &email)
                .await
                .map_err(|e| match e {
                    crate::error::AppError::NotFound => {
                        anyhow::anyhow!("no account with email {email:?}")
                    }
                    other => cli_error(other),
                })?;
            println!(
                "One-time sign-in link for {email} (valid {} minutes, works once):",
                oidc_accounts::SIGNIN_LINK_VALIDITY.num_minutes()
            );
            println!(
                "{}",
                state
                    .settings
                    .absolute_url(&crate::paths::signin_link(&token))
            );
        }
    }
    Ok(())
}

fn unknown(slug: &str) -> anyhow::Error {
    anyhow::anyhow!("no connector with slug {slug:?} (see `campuscore connectors`)")
}

fn cli_error(e: crate::error::AppError) -> anyhow::Error {
    match e {
        crate::error::AppError::Internal(e) => e,
        other => anyhow::anyhow!(other.user_message()),
    }
}
