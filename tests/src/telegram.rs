//! A fake Telegram Bot API server, and a `telemux gateway` process guard.
//!
//! Telegram cannot be reached from CI, so [`FakeTelegram`] serves the parts of
//! the Bot API the gateway uses on `127.0.0.1:0`, with the real JSON shapes
//! (`ok`/`result`, `ok:false` + `error_code` + `description` +
//! `parameters.retry_after`) and the real failure modes: `getUpdates` long
//! polling with offsets (a second overlapping poller makes the older one get
//! 409 Conflict), 400 "message is not modified" for identical edits, 400
//! "message is too long" above 4096 UTF-16 units after entity parsing, 400
//! "can't parse entities" for broken HTML, and 429 with `retry_after` when a
//! test-configured rate is exceeded. Uploads (`sendDocument`, `sendPhoto`,
//! multipart) are kept with their bytes. Every call is recorded; a call made
//! while a 429's `retry_after` is still running is recorded as a violation.
//! Tests inject updates: messages from any user, in a forum topic
//! (`message_thread_id`), and callback queries.

use std::collections::{HashMap, VecDeque};
use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tempfile::TempDir;

/// Id of the fake bot user.
pub const BOT_ID: i64 = 7_000_000;
/// Telegram's limit in UTF-16 code units after entity parsing.
pub const LIMIT: usize = 4096;

/// One recorded API call.
#[derive(Debug, Clone)]
pub struct Call {
    /// Method name, e.g. `editMessageText`.
    pub method: String,
    /// Parameters (JSON body, or multipart fields).
    pub params: Value,
    /// When it arrived.
    pub at: Instant,
    /// `None` on success, else the error description.
    pub error: Option<String>,
    /// The error code on failure.
    pub code: Option<u16>,
}

/// A message the bot has sent, as Telegram stores it.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    /// Chat.
    pub chat: i64,
    /// Message id.
    pub id: i64,
    /// Forum topic.
    pub thread: Option<i64>,
    /// Text after entity parsing (what the user sees).
    pub text: String,
    /// Text as sent (HTML source) plus parse mode and markup, for "not modified".
    source: String,
    /// Number of successful edits.
    pub edits: u32,
    /// Whether an inline keyboard is attached.
    pub has_buttons: bool,
}

/// A file the bot uploaded (`sendDocument`, or `sendPhoto`).
#[derive(Debug, Clone)]
pub struct Document {
    /// The method that uploaded it: `sendDocument` or `sendPhoto`.
    pub method: String,
    /// Chat.
    pub chat: i64,
    /// Forum topic.
    pub thread: Option<i64>,
    /// File name.
    pub name: String,
    /// Content.
    pub bytes: Vec<u8>,
    /// Caption.
    pub caption: String,
}

#[derive(Default)]
struct St {
    token: String,
    next_update: i64,
    updates: VecDeque<Value>,
    poll_gen: u64,
    next_message: i64,
    next_thread: i64,
    messages: HashMap<(i64, i64), StoredMessage>,
    topics: Vec<(i64, i64, String)>,
    calls: Vec<Call>,
    documents: Vec<Document>,
    rate: Option<(usize, Duration, u64)>,
    recent: HashMap<i64, VecDeque<Instant>>,
    blocked: HashMap<i64, Instant>,
    fail_429: Option<(u32, u64)>,
    violations: Vec<String>,
}

/// The fake Bot API server; shut down on drop.
pub struct FakeTelegram {
    st: Arc<Mutex<St>>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn ok(result: Value) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"ok": true, "result": result})),
    )
        .into_response()
}

fn err(code: u16, description: &str, retry_after: Option<u64>) -> Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(r) = retry_after {
        body["parameters"] = json!({"retry_after": r});
    }
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(body),
    )
        .into_response()
}

/// Telegram's HTML parse mode: the visible text, or the error Telegram gives.
pub fn parse_html(s: &str) -> Result<String, String> {
    const TAGS: &[&str] = &[
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    ];
    let mut out = String::new();
    let mut stack: Vec<String> = Vec::new();
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() {
        match b[i] {
            b'<' => {
                let end = s[i..].find('>').ok_or_else(|| {
                    format!(
                        "Bad Request: can't parse entities: Unclosed start tag at byte offset {i}"
                    )
                })? + i;
                let inner = &s[i + 1..end];
                if let Some(name) = inner.strip_prefix('/') {
                    match stack.pop() {
                        Some(open) if open == name.trim() => {}
                        _ => {
                            return Err(format!(
                                "Bad Request: can't parse entities: Unmatched end tag at byte offset {i}, expected \"</{}>\", found \"</{name}>\"",
                                stack.last().cloned().unwrap_or_default()
                            ))
                        }
                    }
                } else {
                    let name = inner.split_whitespace().next().unwrap_or("");
                    if !TAGS.contains(&name) {
                        return Err(format!(
                            "Bad Request: can't parse entities: Unsupported start tag \"{name}\" at byte offset {i}"
                        ));
                    }
                    stack.push(name.to_string());
                }
                i = end + 1;
            }
            b'&' => {
                let semi = s[i..].find(';').map(|p| p + i);
                let ent = semi.map(|e| &s[i + 1..e]);
                let ch = match ent {
                    Some("lt") => Some('<'),
                    Some("gt") => Some('>'),
                    Some("amp") => Some('&'),
                    Some("quot") => Some('"'),
                    Some(e) if e.starts_with('#') => {
                        let n = e
                            .strip_prefix("#x")
                            .map(|h| u32::from_str_radix(h, 16).ok())
                            .unwrap_or_else(|| e[1..].parse().ok());
                        n.and_then(char::from_u32)
                    }
                    _ => None,
                };
                match ch {
                    Some(c) => {
                        out.push(c);
                        i = semi.expect("entity end") + 1;
                    }
                    None => {
                        out.push('&');
                        i += 1;
                    }
                }
            }
            _ => {
                let c = s[i..].chars().next().expect("in bounds");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!(
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"{open}\""
        ));
    }
    Ok(out)
}

fn utf16(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

fn int(v: &Value, k: &str) -> Option<i64> {
    match v.get(k)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Parses `multipart/form-data` into text fields and files.
fn multipart(ct: &str, body: &[u8]) -> (Value, Vec<(String, String, Vec<u8>)>) {
    let mut fields = serde_json::Map::new();
    let mut files = Vec::new();
    let Some(boundary) = ct.split("boundary=").nth(1) else {
        return (Value::Object(fields), files);
    };
    let delim = format!("--{}", boundary.trim_matches('"'));
    let text = body;
    let mut parts = Vec::new();
    let mut start = 0;
    while let Some(p) = find(&text[start..], delim.as_bytes()) {
        parts.push(start + p);
        start += p + delim.len();
    }
    for w in parts.windows(2) {
        let part = &text[w[0] + delim.len()..w[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(h) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&part[..h]).to_string();
        let data = part[h + 4..].to_vec();
        let attr = |a: &str| {
            headers.split(';').find_map(|x| {
                x.trim().strip_prefix(&format!("{a}=\"")).map(|v| {
                    v.trim_end_matches(['"', '\r'])
                        .split('"')
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
            })
        };
        let name = attr("name").unwrap_or_default();
        match attr("filename") {
            Some(f) => files.push((name, f, data)),
            None => {
                fields.insert(
                    name,
                    Value::String(String::from_utf8_lossy(&data).to_string()),
                );
            }
        }
    }
    (Value::Object(fields), files)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "telemux test", "username": "telemux_test_bot"})
}

fn chat_json(chat: i64) -> Value {
    if chat < 0 {
        json!({"id": chat, "type": "supergroup", "title": "telemux", "is_forum": true})
    } else {
        json!({"id": chat, "type": "private", "first_name": "user"})
    }
}

fn message_json(m: &StoredMessage) -> Value {
    let mut v = json!({
        "message_id": m.id, "date": 1_700_000_000, "chat": chat_json(m.chat),
        "from": bot_user(), "text": m.text,
    });
    if let Some(t) = m.thread {
        v["message_thread_id"] = json!(t);
        v["is_topic_message"] = json!(true);
    }
    v
}

async fn handle(
    State(st): State<Arc<Mutex<St>>>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (params, files) = if ct.starts_with("multipart/form-data") {
        multipart(&ct, &body)
    } else if body.is_empty() {
        (json!({}), Vec::new())
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => (v, Vec::new()),
            Err(_) => return err(400, "Bad Request: invalid JSON", None),
        }
    };
    let token_ok = st.lock().unwrap().token == bot.strip_prefix("bot").unwrap_or("");
    let resp = if !token_ok {
        err(401, "Unauthorized", None)
    } else if method == "getUpdates" {
        get_updates(&st, &params).await
    } else {
        let mut s = st.lock().unwrap();
        dispatch(&mut s, &method, &params, files)
    };
    let status = resp.status();
    let mut s = st.lock().unwrap();
    let error = (!status.is_success()).then(|| status.to_string());
    s.calls.push(Call {
        method: method.clone(),
        params,
        at: Instant::now(),
        error,
        code: (!status.is_success()).then_some(status.as_u16()),
    });
    resp
}

async fn get_updates(st: &Arc<Mutex<St>>, p: &Value) -> Response {
    let offset = int(p, "offset").unwrap_or(0);
    let timeout = Duration::from_secs(int(p, "timeout").unwrap_or(0).clamp(0, 60) as u64);
    let limit = int(p, "limit").unwrap_or(100).clamp(1, 100) as usize;
    let gen = {
        let mut s = st.lock().unwrap();
        s.poll_gen += 1;
        // Confirming: everything below the offset is gone for good.
        s.updates
            .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
        s.poll_gen
    };
    let deadline = Instant::now() + timeout;
    loop {
        {
            let s = st.lock().unwrap();
            if s.poll_gen != gen {
                return err(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                    None,
                );
            }
            let out: Vec<Value> = s.updates.iter().take(limit).cloned().collect();
            if !out.is_empty() || Instant::now() >= deadline {
                return ok(Value::Array(out));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn rate_check(s: &mut St, chat: i64) -> Option<Response> {
    let now = Instant::now();
    if let Some(until) = s.blocked.get(&chat).copied() {
        if now < until {
            s.violations.push(format!(
                "call into chat {chat} {:?} before retry_after ended",
                until - now
            ));
            let left = (until - now).as_secs().max(1);
            return Some(err(
                429,
                &format!("Too Many Requests: retry after {left}"),
                Some(left),
            ));
        }
    }
    if let Some((n, retry)) = s.fail_429 {
        if n > 0 {
            s.fail_429 = Some((n - 1, retry));
            s.blocked.insert(chat, now + Duration::from_secs(retry));
            return Some(err(
                429,
                &format!("Too Many Requests: retry after {retry}"),
                Some(retry),
            ));
        }
    }
    if let Some((max, per, retry)) = s.rate {
        let q = s.recent.entry(chat).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= per) {
            q.pop_front();
        }
        if q.len() >= max {
            s.blocked.insert(chat, now + Duration::from_secs(retry));
            return Some(err(
                429,
                &format!("Too Many Requests: retry after {retry}"),
                Some(retry),
            ));
        }
        q.push_back(now);
    }
    None
}

fn render(p: &Value) -> Result<(String, String), String> {
    let text = p["text"].as_str().unwrap_or("").to_string();
    let mode = p["parse_mode"].as_str().unwrap_or("");
    let visible = if mode == "HTML" {
        parse_html(&text)?
    } else {
        text.clone()
    };
    if visible.trim().is_empty() {
        return Err("Bad Request: message text is empty".into());
    }
    if utf16(&visible) > LIMIT {
        return Err("Bad Request: message is too long".into());
    }
    let source = format!(
        "{mode}|{text}|{}",
        p.get("reply_markup").cloned().unwrap_or(Value::Null)
    );
    Ok((visible, source))
}

fn dispatch(
    s: &mut St,
    method: &str,
    p: &Value,
    files: Vec<(String, String, Vec<u8>)>,
) -> Response {
    let chat = int(p, "chat_id").unwrap_or(0);
    let thread = int(p, "message_thread_id");
    match method {
        "getMe" => ok(bot_user()),
        "setMyCommands" | "deleteMyCommands" => ok(json!(true)),
        "answerCallbackQuery" => ok(json!(true)),
        "createForumTopic" => {
            if chat >= 0 {
                return err(400, "Bad Request: the chat is not a forum", None);
            }
            s.next_thread += 1;
            let t = 1000 + s.next_thread;
            let name = p["name"].as_str().unwrap_or("").to_string();
            s.topics.push((chat, t, name.clone()));
            ok(json!({"message_thread_id": t, "name": name, "icon_color": 7_322_096}))
        }
        "sendMessage" => {
            if let Some(r) = rate_check(s, chat) {
                return r;
            }
            let (text, source) = match render(p) {
                Ok(x) => x,
                Err(e) => return err(400, &e, None),
            };
            s.next_message += 1;
            let m = StoredMessage {
                chat,
                id: s.next_message,
                thread,
                text,
                source,
                edits: 0,
                has_buttons: p.get("reply_markup").is_some(),
            };
            let v = message_json(&m);
            s.messages.insert((chat, m.id), m);
            ok(v)
        }
        "editMessageText" => {
            if let Some(r) = rate_check(s, chat) {
                return r;
            }
            let id = int(p, "message_id").unwrap_or(0);
            let (text, source) = match render(p) {
                Ok(x) => x,
                Err(e) => return err(400, &e, None),
            };
            let Some(m) = s.messages.get_mut(&(chat, id)) else {
                return err(400, "Bad Request: message to edit not found", None);
            };
            if m.source == source {
                return err(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message", None);
            }
            m.text = text;
            m.source = source;
            m.edits += 1;
            m.has_buttons = p.get("reply_markup").is_some();
            ok(message_json(m))
        }
        "sendDocument" | "sendPhoto" => {
            if let Some(r) = rate_check(s, chat) {
                return r;
            }
            let (field, what) = if method == "sendPhoto" {
                ("photo", "photo")
            } else {
                ("document", "document")
            };
            let Some((_, name, bytes)) = files.into_iter().find(|f| f.0 == field) else {
                return err(
                    400,
                    &format!("Bad Request: there is no {what} in the request"),
                    None,
                );
            };
            // Telegram's own photo limits, so a bot that ignores them fails here too.
            if method == "sendPhoto" && bytes.len() > 10 * 1024 * 1024 {
                return err(400, "Bad Request: PHOTO_INVALID_DIMENSIONS", None);
            }
            s.next_message += 1;
            let caption = p["caption"].as_str().unwrap_or("").to_string();
            s.documents.push(Document {
                method: method.to_string(),
                chat,
                thread,
                name: name.clone(),
                bytes,
                caption: caption.clone(),
            });
            let n = s.next_message;
            let mut v = json!({
                "message_id": n, "date": 1_700_000_000, "chat": chat_json(chat),
                "from": bot_user(), "caption": caption,
            });
            if method == "sendPhoto" {
                v["photo"] = json!([{"file_id": format!("photo{n}"), "file_unique_id": format!("u{n}"), "width": 90, "height": 90}]);
            } else {
                v["document"] = json!({"file_id": format!("doc{n}"), "file_unique_id": format!("u{n}"), "file_name": name});
            }
            if let Some(t) = thread {
                v["message_thread_id"] = json!(t);
            }
            ok(v)
        }
        _ => err(404, "Not Found", None),
    }
}

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

/// A `telemux gateway` process serving the Telegram bot; SIGKILLed on drop.
pub struct GatewayProcess {
    home: TempDir,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl GatewayProcess {
    /// Starts a gateway on `redis_url` against `api_url` with `env` (`TELEMUX_TELEGRAM__*`...).
    pub fn start(redis_url: &str, env: Vec<(String, String)>) -> GatewayProcess {
        let mut env = env;
        env.push(("TELEMUX_REDIS__URL".into(), redis_url.into()));
        let mut g = GatewayProcess {
            home: crate::bin::temp_home("telemux-gateway-"),
            env,
            child: None,
        };
        g.spawn();
        g
    }

    fn spawn(&mut self) {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("gateway log");
        let _ = writeln!(log, "=== harness: starting telemux gateway ===");
        let err = log.try_clone().expect("log handle");
        let child = crate::bin::isolated_command(self.home.path())
            .arg("gateway")
            .env("RUST_LOG", "info,telemux_gateway=debug")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("spawning telemux gateway");
        self.child = Some(child);
    }

    /// Path of its log (kept across restarts).
    pub fn log_path(&self) -> PathBuf {
        self.home.path().join("gateway.log")
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Its pid while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Crashes it (SIGKILL).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops it with SIGTERM and waits (SIGKILL after 10 s).
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        crate::send_signal(c.id(), libc::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
    }

    /// Starts it again with the same settings and log.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "gateway still running");
        self.spawn();
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(150)..];
            eprintln!("--- last lines of gateway log ---\n{}", tail.join("\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_like_telegram() {
        assert_eq!(
            parse_html("<pre>a &lt;b&gt; &amp;</pre>\n✅").unwrap(),
            "a <b> &\n✅"
        );
        assert!(parse_html("<pre>a<b</pre>").is_err());
        assert!(parse_html("<pre>x").is_err());
        assert!(parse_html("<foo>x</foo>").is_err());
    }
}
