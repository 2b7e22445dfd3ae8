//! The fake Bot API server: its state, the HTTP handler and every method it
//! serves, with Telegram's JSON shapes, limits and error answers.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::wire::{int, multipart, parse_html, utf16};

/// Id of the fake bot user.
pub const BOT_ID: i64 = 7_000_000;
/// Telegram's limit in UTF-16 code units after entity parsing.
pub const LIMIT: usize = 4096;

/// Largest file `getFile` serves to a bot (20 MB).
pub const MAX_DOWNLOAD: usize = 20 * 1024 * 1024;
/// Largest upload a bot may send (50 MB).
pub const MAX_UPLOAD: usize = 50 * 1024 * 1024;
/// The actions `sendChatAction` takes.
pub const CHAT_ACTIONS: &[&str] = &[
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
];

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
    pub(super) source: String,
    /// Number of successful edits.
    pub edits: u32,
    /// Whether an inline keyboard is attached.
    pub has_buttons: bool,
    /// The attached buttons' `callback_data`, row by row.
    pub buttons: Vec<String>,
}

/// The `callback_data` of every button in `p`'s `reply_markup`.
fn callback_data(p: &Value) -> Vec<String> {
    let markup = match &p["reply_markup"] {
        // Multipart or form bodies carry it as a JSON string.
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        v => v.clone(),
    };
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["callback_data"].as_str().map(String::from))
        .collect()
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
pub(super) struct St {
    pub(super) token: String,
    pub(super) next_update: i64,
    pub(super) updates: VecDeque<Value>,
    pub(super) poll_gen: u64,
    pub(super) next_message: i64,
    pub(super) next_thread: i64,
    pub(super) messages: HashMap<(i64, i64), StoredMessage>,
    pub(super) topics: Vec<(i64, i64, String)>,
    pub(super) calls: Vec<Call>,
    pub(super) documents: Vec<Document>,
    pub(super) rate: Option<(usize, Duration, u64)>,
    pub(super) recent: HashMap<i64, VecDeque<Instant>>,
    pub(super) blocked: HashMap<i64, Instant>,
    pub(super) fail_429: Option<(u32, u64)>,
    pub(super) violations: Vec<String>,
    /// Files users "uploaded": file_id → (file_path, bytes).
    pub(super) files: HashMap<String, (String, Vec<u8>)>,
    pub(super) next_file: u64,
}

/// The fake Bot API server; shut down on drop.
pub struct FakeTelegram {
    pub(super) st: Arc<Mutex<St>>,
    pub(super) addr: SocketAddr,
    pub(super) task: tokio::task::JoinHandle<()>,
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

pub(super) fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "telemux test", "username": "telemux_test_bot"})
}

pub(super) fn chat_json(chat: i64) -> Value {
    if chat < 0 {
        json!({"id": chat, "type": "supergroup", "title": "telemux", "is_forum": true})
    } else {
        json!({"id": chat, "type": "private", "first_name": "user"})
    }
}

pub(super) fn message_json(m: &StoredMessage) -> Value {
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

pub(super) async fn handle(
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
        "getFile" => {
            let id = p["file_id"].as_str().unwrap_or("");
            let Some((path, bytes)) = s.files.get(id) else {
                return err(400, "Bad Request: invalid file_id", None);
            };
            if bytes.len() > MAX_DOWNLOAD {
                return err(400, "Bad Request: file is too big", None);
            }
            ok(
                json!({"file_id": id, "file_unique_id": format!("u-{id}"), "file_size": bytes.len(), "file_path": path}),
            )
        }
        "sendChatAction" => {
            if chat == 0 {
                return err(400, "Bad Request: chat not found", None);
            }
            let action = p["action"].as_str().unwrap_or("");
            if !CHAT_ACTIONS.contains(&action) {
                return err(400, "Bad Request: wrong parameter action in request", None);
            }
            if let Some(r) = rate_check(s, chat) {
                return r;
            }
            ok(json!(true))
        }
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
        "editForumTopic" => {
            let t = p["message_thread_id"].as_i64().unwrap_or(0);
            let Some(topic) = s
                .topics
                .iter_mut()
                .find(|(c, th, _)| *c == chat && *th == t)
            else {
                return err(400, "Bad Request: message thread not found", None);
            };
            if let Some(name) = p.get("name").and_then(|n| n.as_str()) {
                if name.is_empty() || name.chars().count() > 128 {
                    return err(400, "Bad Request: TOPIC_NAME_INVALID", None);
                }
                if topic.2 == name {
                    return err(400, "Bad Request: TOPIC_NOT_MODIFIED", None);
                }
                topic.2 = name.to_string();
            }
            ok(json!(true))
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
                buttons: callback_data(p),
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
            m.buttons = callback_data(p);
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
            if files.iter().map(|f| f.2.len()).sum::<usize>() > MAX_UPLOAD {
                return err(413, "Request Entity Too Large", None);
            }
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

/// `GET /file/bot<token>/<file_path>`: a file's bytes, as `getFile` named it
/// (recorded as a call of method `download` with `{"file_path": ...}`).
pub(super) async fn download(
    State(st): State<Arc<Mutex<St>>>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    let mut s = st.lock().unwrap();
    let token_ok = s.token == bot.strip_prefix("bot").unwrap_or("");
    let found = s
        .files
        .values()
        .find(|(p, _)| *p == path)
        .map(|(_, b)| b.clone());
    let (resp, code) = match (token_ok, found) {
        (true, Some(b)) if b.len() <= MAX_DOWNLOAD => ((StatusCode::OK, b).into_response(), None),
        (true, Some(_)) => (err(400, "Bad Request: file is too big", None), Some(400)),
        (true, None) => (err(404, "Not Found", None), Some(404)),
        (false, _) => (err(401, "Unauthorized", None), Some(401)),
    };
    s.calls.push(Call {
        method: "download".into(),
        params: json!({"file_path": path}),
        at: Instant::now(),
        error: code.map(|c| format!("{c}")),
        code,
    });
    resp
}
