//! A terminal as a person uses it, for testing terminal front ends
//! (`tui`, `attach`): a private tmux server of its own (not a node's)
//! whose one pane runs a telemux command. Tests type with `send-keys` and
//! read the screen with `capture-pane`; the server dies with the guard.

use std::time::Duration;

use crate::{wait_until, Cli, TmuxServer};

/// The user's terminal: one pane of a private tmux server.
pub struct UserTerminal {
    tmux: TmuxServer,
}

/// The pane's target on its server.
const PANE: &str = "=term:";

impl UserTerminal {
    /// Opens a `cols` x `rows` terminal running `telemux <args>` with `cli`'s
    /// environment. The pane stays after the command ends, so its last
    /// screen can still be read.
    pub fn start(cli: &Cli, args: &[&str], cols: u16, rows: u16) -> UserTerminal {
        let tmux = TmuxServer::new();
        // The pause keeps the pane open after the command with its last
        // words (attach's "detached …") on screen, where [`Self::ended`]
        // finds them.
        let line = format!("{}; sleep 1", cli.pane_command(args));
        let (w, h) = (cols.to_string(), rows.to_string());
        tmux.run(&["new-session", "-d", "-s", "term", "-x", &w, "-y", &h, &line])
            .unwrap_or_else(|e| panic!("starting the user's terminal: {e}"));
        tmux.run(&["set", "-g", "remain-on-exit", "on"]).unwrap();
        UserTerminal { tmux }
    }

    /// The screen as the person sees it (text only).
    pub fn screen(&self) -> String {
        self.tmux
            .run(&["capture-pane", "-p", "-t", PANE])
            .unwrap_or_default()
    }

    /// The screen with its colours as SGR sequences.
    pub fn screen_with_colours(&self) -> String {
        self.tmux
            .run(&["capture-pane", "-p", "-e", "-t", PANE])
            .unwrap_or_default()
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        self.tmux
            .run(&["send-keys", "-t", PANE, "-l", "--", text])
            .unwrap();
    }

    /// Presses tmux key names (`Enter`, `Escape`, `C-\\`, `Down`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", PANE];
        args.extend_from_slice(keys);
        self.tmux.run(&args).unwrap();
    }

    /// Makes the terminal `cols` x `rows`, as dragging its window would.
    pub fn resize(&self, cols: u16, rows: u16) {
        let (w, h) = (cols.to_string(), rows.to_string());
        self.tmux
            .run(&["resize-window", "-t", PANE, "-x", &w, "-y", &h])
            .unwrap();
    }

    /// Whether the command in the pane has ended: the pause after it runs
    /// (its last words are still on screen then; once the pane is dead,
    /// tmux 3.3a shows only "Pane is dead"), or the pane is dead.
    pub fn ended(&self) -> bool {
        self.tmux
            .run(&[
                "display",
                "-p",
                "-t",
                PANE,
                "#{pane_dead} #{pane_current_command}",
            ])
            .map(|o| o.trim() == "1" || o.trim().starts_with('1') || o.trim().ends_with(" sleep"))
            .unwrap_or(true)
    }

    /// Waits until the screen contains `needle`; returns the screen.
    pub async fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        self.wait_screen(&format!("{needle:?} on the screen"), timeout, |s| {
            s.contains(needle)
        })
        .await
    }

    /// Waits until `pred` holds for the screen; returns the screen. On a
    /// timeout the panic shows the last screen.
    pub async fn wait_screen(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let start = std::time::Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what}; the screen:\n{s}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the pane's command ended; returns the last screen.
    pub async fn wait_ended(&self, timeout: Duration) -> String {
        wait_until("the terminal's command to end", timeout, || async {
            self.ended()
        })
        .await;
        self.screen()
    }
}
