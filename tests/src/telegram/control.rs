//! What tests do with the fake: start it, inject updates (messages, files,
//! button presses), read what the bot sent, and make it misbehave (429s).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::fake::{
    chat_json, download, handle, message_json, Call, Document, FakeTelegram, St, StoredMessage,
};
use super::wire::utf16;

impl FakeTelegram {
    /// Starts the server on `127.0.0.1:0` for bot `token`.
    pub async fn start(token: &str) -> FakeTelegram {
        let st = Arc::new(Mutex::new(St {
            token: token.to_string(),
            next_update: 100,
            ..St::default()
        }));
        let app = axum::Router::new()
            .route("/{bot}/{method}", axum::routing::any(handle))
            .route("/file/{bot}/{*path}", axum::routing::get(download))
            .with_state(st.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the fake Telegram server");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTelegram { st, addr, task }
    }

    /// Base URL to give as `telegram.api_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Environment for a gateway serving this bot to `owner` in forum `group`,
    /// with a short lease and poll timeout so takeovers and replies are quick.
    pub fn gateway_env(&self, owner: i64, group: i64) -> Vec<(String, String)> {
        let token = self.st.lock().unwrap().token.clone();
        [
            ("TELEMUX_TELEGRAM__TOKEN", token),
            ("TELEMUX_TELEGRAM__API_URL", self.url()),
            ("TELEMUX_TELEGRAM__ALLOWED_USERS", format!("[{owner}]")),
            ("TELEMUX_TELEGRAM__CHAT_ID", group.to_string()),
            ("TELEMUX_TELEGRAM__LEASE_MS", "1500".to_string()),
            ("TELEMUX_TELEGRAM__POLL_TIMEOUT_S", "1".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn push_update(&self, content_key: &str, content: Value) -> i64 {
        let mut s = self.st.lock().unwrap();
        s.next_update += 1;
        let id = s.next_update;
        s.updates
            .push_back(json!({"update_id": id, content_key: content}));
        id
    }

    /// Injects a text message from `user` into `chat` (in topic `thread` when given).
    pub fn inject_message(&self, user: i64, chat: i64, thread: Option<i64>, text: &str) -> i64 {
        let mid = {
            let mut s = self.st.lock().unwrap();
            s.next_message += 1;
            s.next_message
        };
        let mut m = json!({
            "message_id": mid, "date": 1_700_000_000, "chat": chat_json(chat),
            "from": {"id": user, "is_bot": false, "first_name": format!("user{user}")},
            "text": text,
        });
        if let Some(t) = thread {
            m["message_thread_id"] = json!(t);
            m["is_topic_message"] = json!(true);
        }
        if text.starts_with('/') {
            let len = text.split_whitespace().next().map(utf16).unwrap_or(0);
            m["entities"] = json!([{"type": "bot_command", "offset": 0, "length": len}]);
        }
        self.push_update("message", m)
    }

    /// Registers `bytes` as a file users sent (what `getFile` and the
    /// download serve); returns its `file_id`.
    pub fn register_file(&self, kind: &str, ext: &str, bytes: Vec<u8>) -> String {
        let mut s = self.st.lock().unwrap();
        s.next_file += 1;
        let id = format!("{kind}-file-{}", s.next_file);
        let path = format!("{kind}s/file_{}.{ext}", s.next_file);
        s.files.insert(id.clone(), (path, bytes));
        id
    }

    /// Injects a message from `user` in `chat`/`thread` with `content`
    /// (`document`, `photo`, `voice` ...) merged in; returns `(update id, message id)`.
    fn inject_content(
        &self,
        user: i64,
        chat: i64,
        thread: Option<i64>,
        content: Value,
    ) -> (i64, i64) {
        let mid = {
            let mut s = self.st.lock().unwrap();
            s.next_message += 1;
            s.next_message
        };
        let mut m = json!({
            "message_id": mid, "date": 1_700_000_000, "chat": chat_json(chat),
            "from": {"id": user, "is_bot": false, "first_name": format!("user{user}")},
        });
        if let (Value::Object(m), Value::Object(c)) = (&mut m, content) {
            m.extend(c);
        }
        if let Some(t) = thread {
            m["message_thread_id"] = json!(t);
            m["is_topic_message"] = json!(true);
        }
        (self.push_update("message", m), mid)
    }

    /// Injects a document `name` with `bytes` (registered under a new file_id);
    /// returns `(update id, message id)`.
    pub fn inject_document(
        &self,
        user: i64,
        chat: i64,
        thread: Option<i64>,
        name: &str,
        bytes: Vec<u8>,
    ) -> (i64, i64) {
        let size = bytes.len();
        let ext = name.rsplit('.').next().unwrap_or("bin").to_string();
        let id = self.register_file("document", &ext, bytes);
        let doc = json!({"document": {
            "file_id": id, "file_unique_id": format!("u-{id}"), "file_name": name,
            "mime_type": "application/octet-stream", "file_size": size,
        }});
        self.inject_content(user, chat, thread, doc)
    }

    /// Injects a photo: an array of PhotoSize, a small thumbnail first and
    /// the biggest (`bytes`) last, as Telegram sends it; returns `(update id, message id)`.
    pub fn inject_photo(
        &self,
        user: i64,
        chat: i64,
        thread: Option<i64>,
        bytes: Vec<u8>,
    ) -> (i64, i64) {
        let size = bytes.len();
        let small = self.register_file("photo", "jpg", b"thumbnail".to_vec());
        let big = self.register_file("photo", "jpg", bytes);
        let photo = json!({"photo": [
            {"file_id": small, "file_unique_id": format!("u-{small}"), "width": 90, "height": 60, "file_size": 9},
            {"file_id": big, "file_unique_id": format!("u-{big}"), "width": 1280, "height": 853, "file_size": size},
        ]});
        self.inject_content(user, chat, thread, photo)
    }

    /// Injects a voice note (`audio/ogg`, `duration` s) with `bytes`;
    /// returns `(update id, message id)`.
    pub fn inject_voice(
        &self,
        user: i64,
        chat: i64,
        thread: Option<i64>,
        bytes: Vec<u8>,
        duration: u32,
    ) -> (i64, i64) {
        let size = bytes.len();
        let id = self.register_file("voice", "oga", bytes);
        let voice = json!({"voice": {
            "file_id": id, "file_unique_id": format!("u-{id}"), "duration": duration,
            "mime_type": "audio/ogg", "file_size": size,
        }});
        self.inject_content(user, chat, thread, voice)
    }

    /// Injects a button press by `user` on the bot's message `message_id` in `chat`.
    pub fn inject_callback(
        &self,
        user: i64,
        chat: i64,
        message_id: i64,
        data: &str,
    ) -> (i64, String) {
        let qid = format!("cbq{}", message_id * 1000 + user % 1000);
        let msg = {
            let s = self.st.lock().unwrap();
            s.messages
                .get(&(chat, message_id))
                .map(message_json)
                .unwrap_or_else(|| json!({"message_id": message_id, "date": 1_700_000_000, "chat": chat_json(chat)}))
        };
        let q = json!({
            "id": qid, "chat_instance": "ci1", "data": data, "message": msg,
            "from": {"id": user, "is_bot": false, "first_name": format!("user{user}")},
        });
        (self.push_update("callback_query", q), qid)
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.st.lock().unwrap().calls.clone()
    }

    /// Calls of one method.
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Messages the bot sent into `chat` (and `thread`, when given), oldest first.
    pub fn messages(&self, chat: i64, thread: Option<i64>) -> Vec<StoredMessage> {
        let s = self.st.lock().unwrap();
        let mut v: Vec<StoredMessage> = s
            .messages
            .values()
            .filter(|m| m.chat == chat && (thread.is_none() || m.thread == thread))
            .cloned()
            .collect();
        v.sort_by_key(|m| m.id);
        v
    }

    /// Forum topics created: `(chat, thread, name)`.
    pub fn topics(&self) -> Vec<(i64, i64, String)> {
        self.st.lock().unwrap().topics.clone()
    }

    /// Files uploaded (documents and photos; see [`Document::method`]).
    pub fn documents(&self) -> Vec<Document> {
        self.st.lock().unwrap().documents.clone()
    }

    /// Calls made while a 429's retry_after was running.
    pub fn violations(&self) -> Vec<String> {
        self.st.lock().unwrap().violations.clone()
    }

    /// The next `n` message calls fail with 429 and `retry_after` seconds.
    pub fn fail_next_with_429(&self, n: u32, retry_after: u64) {
        self.st.lock().unwrap().fail_429 = Some((n, retry_after));
    }

    /// More than `max` message calls per chat within `per` get 429 with `retry_after`.
    pub fn set_rate_limit(&self, max: usize, per: Duration, retry_after: u64) {
        self.st.lock().unwrap().rate = Some((max, per, retry_after));
    }

    /// Updates not yet confirmed by a `getUpdates` offset.
    pub fn pending_updates(&self) -> usize {
        self.st.lock().unwrap().updates.len()
    }
}
