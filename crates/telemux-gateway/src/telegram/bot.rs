//! [`Bot`]: what every task of one lease period shares (configuration, API
//! client, mesh, outbox, watcher table, typing topics, pending transcripts),
//! and [`Here`], where an answer goes.
//!
//! A leaf on purpose: the poller, commands, topics and agents all take a
//! `&Bot`, and none of them has to import another to get it.

use std::collections::HashMap;

use telemux_bus::Bus;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    api::BotClient, config::TelegramConfig, outbox::Outbox, transcripts::Transcripts,
    typing::Typing,
};
use telemux_client::Mesh;

/// Everything a lease holder's tasks share.
pub struct Bot {
    /// The configuration.
    pub cfg: TelegramConfig,
    /// The Bot API.
    pub api: BotClient,
    /// The mesh.
    pub mesh: Mesh,
    /// The one sender.
    pub outbox: Outbox,
    /// Topics whose agent works ("typing…"; its task runs in the poller's lease period).
    pub typing: std::sync::Arc<Typing>,
    /// Voice notes' transcripts waiting for Send / Edit / Cancel.
    pub transcripts: Transcripts,
    /// Session key → its watcher's token.
    pub(crate) watchers: std::sync::Mutex<HashMap<String, CancellationToken>>,
    /// Serializes topic creation, so one session never gets two topics.
    pub(crate) topic_lock: tokio::sync::Mutex<()>,
    /// Cancelled when the lease is lost or the gateway stops.
    pub cancel: CancellationToken,
    /// Tasks of this lease period.
    pub tracker: TaskTracker,
}

impl Bot {
    /// A bot for one lease period, cancelled with `cancel`.
    pub fn new(cfg: TelegramConfig, api: BotClient, mesh: Mesh, cancel: CancellationToken) -> Bot {
        Bot {
            outbox: Outbox::new(cfg.pace),
            typing: Default::default(),
            transcripts: Default::default(),
            cfg,
            api,
            mesh,
            watchers: Default::default(),
            topic_lock: Default::default(),
            cancel,
            tracker: TaskTracker::new(),
        }
    }

    /// The Redis bus.
    pub fn bus(&self) -> &Bus {
        self.mesh.bus()
    }

    /// Sends an HTML answer to where a message came from.
    pub fn reply(&self, here: Here, html: String) {
        self.outbox.say(here.chat, here.thread, html);
    }
}

/// Where a message came from, and so where answers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Here {
    /// Chat id.
    pub chat: i64,
    /// Forum topic, when the message was posted in one.
    pub thread: Option<i32>,
}
