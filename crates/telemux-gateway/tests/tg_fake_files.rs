//! The gateway's Bot API client against the fake Bot API's file and chat
//! action methods: `getFile` and the download with Telegram's limits and
//! error answers, and `sendChatAction` (a valid action, 400 otherwise).

use std::time::Duration;

use frankenstein::methods::{GetFileParams, SendChatActionParams};
use frankenstein::response::MethodResponse;
use frankenstein::types::ChatAction;
use frankenstein::AsyncTelegramApi;
use serde_json::json;
use telemux_gateway::telegram::{ApiError, BotClient};
use telemux_tests::telegram::FakeTelegram;

const TOKEN: &str = "123456:TEST-token";

fn refused(e: &ApiError) -> (u64, String) {
    match e {
        ApiError::Api {
            code, description, ..
        } => (*code, description.clone()),
        other => panic!("not a Bot API refusal: {other:?}"),
    }
}

#[tokio::test]
async fn get_file_downloads_and_refuses_like_telegram() {
    let tg = FakeTelegram::start(TOKEN).await;
    let api = BotClient::new(&tg.url(), TOKEN, Duration::from_secs(1)).unwrap();
    let id = tg.register_file("document", "txt", b"some bytes".to_vec());
    let f = api
        .get_file(&GetFileParams {
            file_id: id.clone(),
        })
        .await
        .unwrap()
        .result;
    assert_eq!(f.file_size, Some(10));
    let path = f.file_path.expect("a file_path");
    assert_eq!(api.download(&path, 1024).await.unwrap(), b"some bytes");
    // The client's own bound.
    assert!(api.download(&path, 4).await.is_err());

    let e = api
        .get_file(&GetFileParams {
            file_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused(&e), (400, "Bad Request: invalid file_id".into()));

    let big = tg.register_file("document", "bin", vec![0; 20 * 1024 * 1024 + 1]);
    let e = api
        .get_file(&GetFileParams { file_id: big })
        .await
        .unwrap_err();
    assert_eq!(refused(&e), (400, "Bad Request: file is too big".into()));

    // A wrong token or path is not served.
    let other = BotClient::new(&tg.url(), "1:other", Duration::from_secs(1)).unwrap();
    assert!(other.download(&path, 1024).await.is_err());
    assert!(api.download("documents/missing.txt", 1024).await.is_err());
    assert_eq!(tg.calls_of("download").len(), 4);
}

#[tokio::test]
async fn send_chat_action_takes_only_telegram_s_actions() {
    let tg = FakeTelegram::start(TOKEN).await;
    let api = BotClient::new(&tg.url(), TOKEN, Duration::from_secs(1)).unwrap();
    let params = SendChatActionParams {
        business_connection_id: None,
        chat_id: (-100_777i64).into(),
        message_thread_id: Some(1001),
        action: ChatAction::Typing,
    };
    assert!(api.send_chat_action(&params).await.unwrap().result);
    let r: Result<MethodResponse<bool>, ApiError> = api
        .request(
            "sendChatAction",
            Some(json!({"chat_id": -100_777, "action": "dancing"})),
        )
        .await;
    assert_eq!(
        refused(&r.unwrap_err()),
        (400, "Bad Request: wrong parameter action in request".into())
    );
    let calls = tg.calls_of("sendChatAction");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].params["action"], "typing");
    assert_eq!(calls[0].params["message_thread_id"], 1001);
}
