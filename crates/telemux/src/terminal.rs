//! `tui` and `attach`, the terminal front ends: wiring of `telemux-tui` to
//! the configuration, and `attach`'s shortcut for a session on this very
//! computer (plain `tmux attach` on the node's socket).

use telemux_client::{Mesh, MeshError};
use telemux_tmux::Tmux;
use telemux_tui::attach::{Attach, DetachKey, Ended};
use telemux_tui::dashboard::{Dashboard, DashboardOptions};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::{EXIT_REMOTE, EXIT_USAGE};

/// `telemux tui`.
pub async fn tui(mesh: &Mesh, cfg: &Config) -> Result<i32, MeshError> {
    let detach = match DetachKey::parse(&cfg.tui.detach_key) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("telemux: tui.detach_key: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let opts = DashboardOptions {
        scrollback: cfg.tui.scrollback,
        detach,
    };
    let cancel = CancellationToken::new();
    crate::daemon::stop_on_signals(cancel.clone());
    match Dashboard::new(mesh.clone(), opts).run(cancel).await {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("telemux: {e}");
            Ok(EXIT_REMOTE)
        }
    }
}

/// `telemux attach SESSION`.
pub async fn attach(
    mesh: &Mesh,
    cfg: &Config,
    addr: &str,
    detach_key: Option<&str>,
) -> Result<i32, MeshError> {
    let detach = match DetachKey::parse(detach_key.unwrap_or(&cfg.tui.detach_key)) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("telemux: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let (c, s) = mesh.resolve_session(addr).await?;
    let here = cfg.computer_name().ok();
    let tmux = Tmux::new(&cfg.tmux.socket);
    if here.as_ref() == Some(&c) && tmux.has_session(&s).await.unwrap_or(false) {
        // Our own tmux server: nothing to carry through Redis.
        let status = tokio::process::Command::new("tmux")
            .args(tmux.attach_argv(&s))
            .status()
            .await;
        return Ok(match status {
            Ok(st) => st.code().unwrap_or(EXIT_REMOTE),
            Err(e) => {
                eprintln!("telemux: cannot run tmux attach: {e}");
                EXIT_REMOTE
            }
        });
    }
    let cancel = CancellationToken::new();
    crate::daemon::stop_on_signals(cancel.clone());
    match Attach::new(mesh.clone(), c.clone(), s.clone(), detach)
        .run(cancel)
        .await
    {
        Ok(Ended::Detached) => {
            eprintln!("[detached from {c}/{s}; back with: telemux attach {c}/{s}]");
            Ok(0)
        }
        Ok(Ended::SessionEnded(why)) => {
            eprintln!("[{c}/{s}: {why}]");
            Ok(0)
        }
        Err(e) => {
            eprintln!("telemux: attach {c}/{s}: {e}");
            Ok(EXIT_REMOTE)
        }
    }
}
