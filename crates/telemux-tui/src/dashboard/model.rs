//! What the dashboard knows about the mesh and what is selected (pure):
//! fed by [`WatchUpdate`]s, asked for the rows to show.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use telemux_client::{Refresh, WatchUpdate};
use telemux_proto::{AgentState, ComputerInfo, MeshEvent, SessionInfo, SessionState};

/// One session as the dashboard shows it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// What its computer last listed.
    pub info: SessionInfo,
    /// Exit code of the last command typed into its shell, seen live.
    pub last_exit: Option<i32>,
}

/// One computer and its sessions.
#[derive(Debug, Clone)]
pub struct ComputerRow {
    /// Its last registry record or heartbeat.
    pub info: ComputerInfo,
    /// Online by its heartbeats.
    pub online: bool,
    /// When its last heartbeat arrived here (local clock, so skew between
    /// computers cannot make one look dead).
    pub beat_at: Option<Instant>,
    /// Sessions by case-folded name.
    pub sessions: BTreeMap<String, SessionRow>,
}

/// A selectable row: a computer, or one of its sessions (case-folded keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sel {
    /// A computer.
    Computer(String),
    /// A session of a computer.
    Session(String, String),
}

/// The dashboard's state.
#[derive(Debug, Default)]
pub struct Model {
    /// Computers by case-folded name.
    pub computers: BTreeMap<String, ComputerRow>,
    /// The selected row.
    pub sel: Option<Sel>,
    /// Only rows whose computer or session name contains this (case-insensitive).
    pub filter: String,
    /// Redis, as shown in the status line (password redacted).
    pub redis_url: String,
    /// Set while Redis is away: what failed.
    pub redis_error: Option<String>,
    /// Round trip of the last PING (at start and on refresh).
    pub latency: Option<Duration>,
    /// Entries in the dead-letter stream (at start and on refresh).
    pub dead_letters: Option<u64>,
    /// A message for the user (an action's result).
    pub flash: Option<String>,
}

fn fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl Model {
    /// An empty model for the mesh at `redis_url`.
    pub fn new(redis_url: &str) -> Model {
        Model {
            redis_url: redis_url.to_string(),
            ..Model::default()
        }
    }

    /// Applies one update; returns the reads the watch should make because of it.
    pub fn apply(&mut self, u: WatchUpdate, now: Instant) -> Vec<Refresh> {
        let mut want = Vec::new();
        match u {
            WatchUpdate::Redis(e) => self.redis_error = e,
            WatchUpdate::Computers(list) => {
                let mut next = BTreeMap::new();
                for st in list {
                    let key = fold(&st.info.name);
                    let sessions = self
                        .computers
                        .remove(&key)
                        .map(|c| c.sessions)
                        .unwrap_or_default();
                    next.insert(
                        key,
                        ComputerRow {
                            online: st.online,
                            beat_at: st.online.then_some(now),
                            info: st.info,
                            sessions: if st.online { sessions } else { BTreeMap::new() },
                        },
                    );
                }
                self.computers = next;
            }
            WatchUpdate::Sessions { computer, sessions } => {
                if let Some(c) = self.computers.get_mut(&fold(&computer)) {
                    let old = std::mem::take(&mut c.sessions);
                    for info in sessions {
                        let key = fold(&info.name);
                        let last_exit = old.get(&key).and_then(|s| s.last_exit);
                        c.sessions.insert(key, SessionRow { info, last_exit });
                    }
                }
            }
            WatchUpdate::Beat(info) => {
                let key = fold(&info.name);
                let stopped = info.stopped;
                match self.computers.get_mut(&key) {
                    Some(c) => {
                        let was_online = c.online;
                        c.info = info;
                        c.online = !stopped;
                        c.beat_at = (!stopped).then_some(now);
                        if stopped {
                            c.sessions.clear();
                        } else if !was_online {
                            want.push(Refresh::Computer(c.info.name.clone()));
                        }
                    }
                    None if !stopped => {
                        want.push(Refresh::Computer(info.name.clone()));
                        self.computers.insert(
                            key,
                            ComputerRow {
                                info,
                                online: true,
                                beat_at: Some(now),
                                sessions: BTreeMap::new(),
                            },
                        );
                    }
                    None => {}
                }
            }
            WatchUpdate::Event(ev) => self.event(ev, now, &mut want),
        }
        self.keep_selection();
        want
    }

    fn event(&mut self, ev: MeshEvent, now: Instant, want: &mut Vec<Refresh>) {
        match ev {
            MeshEvent::ComputerOnline { computer } => {
                if let Some(c) = self.computers.get_mut(&fold(&computer)) {
                    c.online = true;
                    c.beat_at = Some(now);
                }
                want.push(Refresh::Computer(computer));
            }
            MeshEvent::ComputerOffline { computer, .. } => {
                if let Some(c) = self.computers.get_mut(&fold(&computer)) {
                    c.online = false;
                    c.beat_at = None;
                    c.sessions.clear();
                }
            }
            MeshEvent::SessionCreated {
                computer, session, ..
            } => {
                // The details come with the listing the watch makes next.
                if let Some(c) = self.computers.get_mut(&fold(&computer)) {
                    c.sessions
                        .entry(fold(&session))
                        .or_insert_with(|| SessionRow {
                            info: SessionInfo {
                                computer: computer.clone(),
                                name: session.clone(),
                                command: String::new(),
                                cwd: String::new(),
                                created_ms: telemux_proto::now_ms(),
                                state: SessionState::Running,
                                last_activity_ms: telemux_proto::now_ms(),
                                exit_status: None,
                                agent: None,
                                agent_state: None,
                                agent_since_ms: None,
                                agent_prompt: None,
                                agent_usage: None,
                            },
                            last_exit: None,
                        });
                }
            }
            MeshEvent::SessionExited {
                computer,
                session,
                exit_status,
            } => {
                if let Some(s) = self.session_mut(&computer, &session) {
                    s.info.state = SessionState::Exited;
                    s.info.exit_status = Some(exit_status);
                }
            }
            MeshEvent::SessionClosed { computer, session } => {
                if let Some(c) = self.computers.get_mut(&fold(&computer)) {
                    c.sessions.remove(&fold(&session));
                }
            }
            MeshEvent::SessionRenamed {
                computer,
                session,
                renamed_from,
                ..
            } => {
                if let Some(c) = self.computers.get_mut(&fold(&computer)) {
                    if let Some(mut row) = c.sessions.remove(&fold(&renamed_from)) {
                        row.info.name = session.clone();
                        c.sessions.insert(fold(&session), row);
                    }
                }
            }
            MeshEvent::AgentState {
                computer,
                session,
                state,
                since_ms,
            } => {
                if let Some(s) = self.session_mut(&computer, &session) {
                    s.info.agent_state = Some(state);
                    s.info.agent_since_ms = Some(since_ms);
                    s.info.agent_prompt = None;
                }
                if state == AgentState::WaitingForInput {
                    // The question and its choices are in the listing.
                    want.push(Refresh::Computer(computer));
                }
            }
            MeshEvent::CommandFinished {
                computer,
                session,
                exit_code,
            } => {
                if let Some(s) = self.session_mut(&computer, &session) {
                    s.last_exit = Some(exit_code);
                    s.info.last_activity_ms = telemux_proto::now_ms();
                }
            }
            // Nothing on the dashboard shows these: a kill is followed by
            // `session_closed`, accepted input by the agent's `working`, and
            // deliveries are in `telemux inbox`.
            _ => {}
        }
    }

    fn session_mut(&mut self, computer: &str, session: &str) -> Option<&mut SessionRow> {
        self.computers
            .get_mut(&fold(computer))?
            .sessions
            .get_mut(&fold(session))
    }

    /// Marks computers whose heartbeats stopped as offline; `true` when one did.
    pub fn tick(&mut self, now: Instant) -> bool {
        let mut changed = false;
        for c in self.computers.values_mut() {
            let period = Duration::from_millis(c.info.heartbeat_ms.max(1));
            if c.online
                && c.beat_at
                    .is_some_and(|at| now.duration_since(at) > period * 3)
            {
                c.online = false;
                c.sessions.clear();
                changed = true;
            }
        }
        if changed {
            self.keep_selection();
        }
        changed
    }

    /// The rows to show, in order, with what selecting each means.
    pub fn rows(&self) -> Vec<Sel> {
        let f = fold(&self.filter);
        let mut out = Vec::new();
        for (ck, c) in &self.computers {
            let computer_hit = fold(&c.info.name).contains(&f);
            let sessions: Vec<&String> = c
                .sessions
                .keys()
                .filter(|sk| computer_hit || sk.contains(&f))
                .collect();
            if !computer_hit && sessions.is_empty() {
                continue;
            }
            out.push(Sel::Computer(ck.clone()));
            out.extend(
                sessions
                    .into_iter()
                    .map(|sk| Sel::Session(ck.clone(), sk.clone())),
            );
        }
        out
    }

    /// Moves the selection by `delta` rows.
    pub fn move_sel(&mut self, delta: i32) {
        let rows = self.rows();
        if rows.is_empty() {
            self.sel = None;
            return;
        }
        let at = self
            .sel
            .as_ref()
            .and_then(|s| rows.iter().position(|r| r == s))
            .unwrap_or(0) as i32;
        let next = (at + delta).clamp(0, rows.len() as i32 - 1) as usize;
        self.sel = Some(rows[next].clone());
    }

    /// After a change: the selection still names a shown row (or the first).
    fn keep_selection(&mut self) {
        let rows = self.rows();
        let still = self.sel.as_ref().is_some_and(|s| rows.contains(s));
        if !still {
            // A vanished session: select its computer rather than jump away.
            let parent = match &self.sel {
                Some(Sel::Session(c, _)) => Some(Sel::Computer(c.clone())),
                _ => None,
            };
            self.sel = parent
                .filter(|p| rows.contains(p))
                .or_else(|| rows.first().cloned());
        }
    }

    /// The selected session, if a session is selected.
    pub fn selected_session(&self) -> Option<(&ComputerRow, &SessionRow)> {
        match &self.sel {
            Some(Sel::Session(c, s)) => {
                let c = self.computers.get(c)?;
                Some((c, c.sessions.get(s)?))
            }
            _ => None,
        }
    }

    /// The selected session's address (`computer/session`).
    pub fn selected_addr(&self) -> Option<String> {
        self.selected_session()
            .map(|(c, s)| format!("{}/{}", c.info.name, s.info.name))
    }

    /// The selected computer (also when one of its sessions is selected).
    pub fn selected_computer(&self) -> Option<&ComputerRow> {
        match &self.sel {
            Some(Sel::Computer(c)) | Some(Sel::Session(c, _)) => self.computers.get(c),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemux_bus::ComputerStatus;

    fn info(name: &str, hb: u64) -> ComputerInfo {
        ComputerInfo {
            name: name.into(),
            version: "0.1.0".into(),
            proto: 1,
            os: "linux".into(),
            host: "h".into(),
            started_ms: 1,
            last_seen_ms: 1,
            heartbeat_ms: hb,
            sessions: 0,
            pid: 1,
            stopped: false,
            projects: vec![],
            agents: vec![],
        }
    }

    fn session(computer: &str, name: &str) -> SessionInfo {
        SessionInfo {
            computer: computer.into(),
            name: name.into(),
            command: "bash".into(),
            cwd: "/".into(),
            created_ms: 1,
            state: SessionState::Running,
            last_activity_ms: 1,
            exit_status: None,
            agent: None,
            agent_state: None,
            agent_since_ms: None,
            agent_prompt: None,
            agent_usage: None,
        }
    }

    fn mesh(now: Instant) -> Model {
        let mut m = Model::new("redis://x");
        m.apply(
            WatchUpdate::Computers(vec![
                ComputerStatus {
                    info: info("RasPi", 100),
                    online: true,
                },
                ComputerStatus {
                    info: info("MozBook", 100),
                    online: true,
                },
            ]),
            now,
        );
        m.apply(
            WatchUpdate::Sessions {
                computer: "RasPi".into(),
                sessions: vec![session("RasPi", "api"), session("RasPi", "db")],
            },
            now,
        );
        m
    }

    #[test]
    fn rows_are_a_tree_and_the_filter_keeps_matching_sessions_with_their_computer() {
        let now = Instant::now();
        let mut m = mesh(now);
        let names = |m: &Model| {
            m.rows()
                .into_iter()
                .map(|r| match r {
                    Sel::Computer(c) => c,
                    Sel::Session(c, s) => format!("{c}/{s}"),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&m), ["mozbook", "raspi", "raspi/api", "raspi/db"]);
        m.filter = "DB".into();
        assert_eq!(names(&m), ["raspi", "raspi/db"]);
    }

    #[test]
    fn events_change_sessions_and_a_created_one_asks_for_its_listing_only_via_the_watch() {
        let now = Instant::now();
        let mut m = mesh(now);
        m.sel = Some(Sel::Session("raspi".into(), "api".into()));
        m.apply(
            WatchUpdate::Event(MeshEvent::CommandFinished {
                computer: "RasPi".into(),
                session: "api".into(),
                exit_code: 3,
            }),
            now,
        );
        assert_eq!(m.selected_session().unwrap().1.last_exit, Some(3));
        m.apply(
            WatchUpdate::Event(MeshEvent::AgentState {
                computer: "RasPi".into(),
                session: "api".into(),
                state: AgentState::Idle,
                since_ms: 5,
            }),
            now,
        );
        assert_eq!(
            m.selected_session().unwrap().1.info.agent_state,
            Some(AgentState::Idle)
        );
        // Waiting for input: the question comes with the computer's listing.
        let want = m.apply(
            WatchUpdate::Event(MeshEvent::AgentState {
                computer: "RasPi".into(),
                session: "api".into(),
                state: AgentState::WaitingForInput,
                since_ms: 6,
            }),
            now,
        );
        assert!(matches!(&want[..], [Refresh::Computer(c)] if c == "RasPi"));
        // The selected session closes: its computer is selected, not another row.
        m.apply(
            WatchUpdate::Event(MeshEvent::SessionClosed {
                computer: "RasPi".into(),
                session: "api".into(),
            }),
            now,
        );
        assert_eq!(m.sel, Some(Sel::Computer("raspi".into())));
        m.apply(
            WatchUpdate::Event(MeshEvent::SessionCreated {
                computer: "MozBook".into(),
                session: "web".into(),
                by: String::new(),
            }),
            now,
        );
        assert!(m.computers["mozbook"].sessions.contains_key("web"));
    }

    #[test]
    fn a_computer_whose_beats_stop_goes_offline_by_the_clock_and_a_beat_brings_it_back() {
        let t0 = Instant::now();
        let mut m = mesh(t0);
        assert!(
            !m.tick(t0 + Duration::from_millis(250)),
            "within three beats"
        );
        m.apply(
            WatchUpdate::Beat(info("MozBook", 100)),
            t0 + Duration::from_millis(250),
        );
        assert!(
            m.tick(t0 + Duration::from_millis(350)),
            "RasPi missed three beats"
        );
        assert!(!m.computers["raspi"].online);
        assert!(m.computers["raspi"].sessions.is_empty());
        assert!(m.computers["mozbook"].online);
        let want = m.apply(
            WatchUpdate::Beat(info("RasPi", 100)),
            t0 + Duration::from_millis(400),
        );
        assert!(m.computers["raspi"].online);
        assert!(matches!(&want[..], [Refresh::Computer(c)] if c == "RasPi"));
        // A goodbye is offline at once.
        let mut bye = info("MozBook", 100);
        bye.stopped = true;
        m.apply(WatchUpdate::Beat(bye), t0 + Duration::from_millis(410));
        assert!(!m.computers["mozbook"].online);
    }
}
