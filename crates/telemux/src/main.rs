//! The `telemux` binary: parses the command line, loads the configuration and
//! hands over to the library crates. It holds no logic of its own beyond
//! wiring and printing.

mod cli;
mod client;
mod config;
mod cp;
mod daemon;
mod doctor;
mod events;
mod gateway;
mod grep;
mod mailbox;
mod out;
mod print;
mod screenshot;
mod serve_mcp;
mod serve_telegram;
mod terminal;

use std::io::IsTerminal;

use clap::Parser;

use crate::cli::{Cli, Command, LogFormat};

/// Exit code for usage and bad-input errors (DESIGN.md §5).
pub const EXIT_USAGE: i32 = 2;
/// Exit code for remote failures.
pub const EXIT_REMOTE: i32 = 1;

fn init_logs(format: LogFormat, daemon: bool, screen: bool) {
    // rmcp logs every request at info; keep stdio MCP sessions quiet. fred
    // warns when a CLI exits while a reply listener is still closing
    // ("quit client that was already stopped"): noise after a one-line error.
    let default = if daemon {
        "info,rmcp=warn"
    } else if screen {
        "off"
    } else {
        "warn,fred=error"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour only for a terminal: in a file or a pipe the escapes are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Refuses a command line that is not UTF-8 before clap sees it, naming the
/// argument (clap only says "invalid UTF-8 was detected in one or more arguments").
fn require_utf8_args() {
    for (i, arg) in std::env::args_os().enumerate().skip(1) {
        if arg.to_str().is_none() {
            eprintln!(
                "telemux: argument {i} ({arg:?}) is not valid UTF-8; names, texts and keys must be UTF-8 text"
            );
            std::process::exit(EXIT_USAGE);
        }
    }
}

fn main() {
    require_utf8_args();
    let cli = Cli::parse();
    let daemon = matches!(
        cli.command,
        Command::Up | Command::Node | Command::Gateway | Command::Mcp
    );
    // The terminal front ends own the screen: a log line would tear it.
    let screen = matches!(cli.command, Command::Tui | Command::Attach { .. });
    init_logs(cli.log_format, daemon, screen);
    // Loading reads files (figment, blocking I/O): done before the runtime
    // starts, so no async task ever waits behind it.
    let loaded = match config::Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("telemux: {e:#}");
            std::process::exit(EXIT_USAGE);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("telemux: cannot start the async runtime: {e}");
            std::process::exit(EXIT_REMOTE);
        }
    };
    let code = rt.block_on(dispatch(cli, loaded));
    // Do not wait for lingering blocking reads on exit.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}

async fn dispatch(cli: Cli, (cfg, path): (config::Config, Option<std::path::PathBuf>)) -> i32 {
    let json = cli.json;
    match cli.command {
        Command::Up => daemon::up(cfg).await,
        Command::Node => daemon::node(cfg).await,
        Command::Gateway => {
            let cancel = tokio_util::sync::CancellationToken::new();
            daemon::stop_on_signals(cancel.clone());
            gateway::gateway(cfg, cancel).await
        }
        Command::Mcp => gateway::mcp(cfg, tokio_util::sync::CancellationToken::new()).await,
        Command::Doctor => doctor::run(&cfg, path.as_deref(), json).await,
        Command::Config {
            action: cli::ConfigAction::Show,
        } => {
            print::config(&cfg.redacted(), path.as_deref(), json);
            0
        }
        other => client::run(&cfg, other, json).await,
    }
}
