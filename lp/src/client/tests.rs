//! The client against a one-socket server on loopback.

use super::*;
use crate::common::Empty;
use crate::routing::{Availability, SetAgentState};

/// A one-socket server on loopback: answers every request with `code`
/// after first sending one notification, then closes with 4401 when
/// it reads a frame "bye".
async fn server(code: u16) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
        while let Some(Ok(Message::Text(text))) = socket.next().await {
            if text.as_str() == "bye" {
                let close = CloseFrame {
                    code: CloseCode::from(4401),
                    reason: "log in again".into(),
                };
                let _ = socket.send(Message::Close(Some(close))).await;
                return;
            }
            let id = crate::envelope::salvage_id(&text).unwrap();
            let ring = r#"{"kind":"notification","type":".ams.routing.RoutingTaskNotification","body":{"changes":[]}}"#;
            socket.send(Message::text(ring)).await.unwrap();
            let body = if code < 400 { "{}" } else { r#"{"msg":"no"}"# };
            let answer = format!(
                r#"{{"kind":"resp","reqId":"{id}","code":{code},"type":"x","body":{body}}}"#
            );
            socket.send(Message::text(answer)).await.unwrap();
        }
    });
    url
}

/// A one-socket server on loopback that reads every frame and answers none.
async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
        while let Some(Ok(_)) = socket.next().await {}
    });
    url
}

/// A connection the server closed (with 4401, asked by "bye"), its
/// inbox read to the end.
async fn closed_by_the_server() -> (Connection<Agent>, Inbox<Agent>) {
    let url = server(200).await;
    let (connection, mut inbox) = Connection::<Agent>::open(&url, &Options::default())
        .await
        .unwrap();
    connection.send_text("bye".into()).unwrap();
    while inbox.next().await.is_some() {}
    (connection, inbox)
}

/// Sends `online()` without waiting; the receiver gets its answer's code.
fn send_online(connection: &Connection<Agent>) -> oneshot::Receiver<Result<u16, ClientError>> {
    let (answered, answer) = oneshot::channel();
    connection.request_then(
        &online(),
        Box::new(move |result| {
            let _ = answered.send(result.map(|a| a.response.code));
        }),
    );
    answer
}

fn online() -> SetAgentState {
    SetAgentState {
        availability: Availability::Online,
        channels: Vec::new(),
        agent_user_id: None,
    }
}

#[tokio::test]
async fn a_request_gets_its_response_and_what_came_before_waits_in_the_inbox() {
    let url = server(200).await;
    let (connection, mut inbox) = Connection::<Agent>::open(&url, &Options::default())
        .await
        .unwrap();
    let answer: Empty = connection.request(&online()).await.unwrap();
    assert_eq!(answer, Empty {});
    let arrived = inbox.try_next().expect("the notification came first");
    assert!(matches!(
        arrived.frame,
        Ok(Received::Notification(AgentNotification::RoutingTask(_)))
    ));
    assert!(arrived.text.contains("RoutingTaskNotification"));
}

#[tokio::test]
async fn a_refusal_is_an_error_naming_the_request_and_the_code() {
    let url = server(403).await;
    let (connection, _inbox) = Connection::<Agent>::open(&url, &Options::default())
        .await
        .unwrap();
    match connection.request(&online()).await {
        Err(ClientError::Refused { kind, refusal }) => {
            assert_eq!(kind, ".ams.routing.SetAgentState");
            assert_eq!((refusal.code, refusal.message.as_str()), (403, "no"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_request_sent_without_waiting_hands_its_response_to_its_function() {
    let url = server(200).await;
    let (connection, _inbox) = Connection::<Agent>::open(&url, &Options::default())
        .await
        .unwrap();
    assert_eq!(send_online(&connection).await.unwrap().unwrap(), 200);
}

#[tokio::test]
async fn a_request_sent_without_waiting_hears_when_the_socket_ends_first() {
    let (connection, _inbox) = closed_by_the_server().await;
    assert!(matches!(
        send_online(&connection).await.unwrap(),
        Err(ClientError::Closed)
    ));
}

#[tokio::test]
async fn the_end_of_the_socket_is_told_with_its_close_code_and_fails_later_requests() {
    let (connection, inbox) = closed_by_the_server().await;
    let closed = inbox.closed().await;
    assert_eq!(closed.code, Some(4401));
    assert!(matches!(
        connection.request(&online()).await,
        Err(ClientError::Closed)
    ));
}

#[tokio::test]
async fn a_request_sent_without_waiting_is_told_unanswered_once_overdue() {
    let url = silent_server().await;
    let (connection, _inbox) = Connection::<Agent>::open(&url, &Options::default())
        .await
        .unwrap();
    // The sweep runs on tokio's clock: paused, it moves only when told.
    tokio::time::pause();
    let mut first = send_online(&connection);
    tokio::time::advance(UNANSWERED_AFTER - std::time::Duration::from_secs(1)).await;
    // The next request looks for overdue ones: the first is not yet.
    let mut second = send_online(&connection);
    assert!(matches!(
        first.try_recv(),
        Err(oneshot::error::TryRecvError::Empty)
    ));
    tokio::time::advance(std::time::Duration::from_secs(2)).await;
    let _third = send_online(&connection);
    assert!(matches!(first.try_recv(), Ok(Err(ClientError::Unanswered))));
    // Sent two seconds ago, the second still waits.
    assert!(matches!(
        second.try_recv(),
        Err(oneshot::error::TryRecvError::Empty)
    ));
}
