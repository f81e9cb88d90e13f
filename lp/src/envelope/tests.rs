//! The envelope's readers and writers.

use super::*;
use serde_json::json;

type AnyFrame = Frame<Untyped, Untyped>;

#[test]
fn an_envelope_field_written_with_escapes_reads_as_its_text() {
    let frame = AnyFrame::parse(r#"{"kind":"r\u0065q","id":"1","type":"GetClock"}"#);
    assert!(matches!(frame, Ok(Frame::Request(_))), "{frame:?}");
}

#[test]
fn numeric_request_ids_are_read_as_text() {
    let frame = AnyFrame::parse(r#"{"kind":"req","id":7,"type":"GetClock"}"#).unwrap();
    let Frame::Request(incoming) = frame else {
        panic!("a request")
    };
    assert_eq!(incoming.id, "7");
    assert_eq!(incoming.kind, "GetClock");
    assert_eq!(incoming.request.body, Value::Null);
}

#[test]
fn responses_keep_their_body_for_the_caller_to_decode() {
    let text = r#"{"kind":"resp","reqId":"1","code":200,"type":".ams.ms.PublishEvent$Response","body":{"sequence":17}}"#;
    let Frame::Response(response) = AnyFrame::parse(text).unwrap() else {
        panic!("a response")
    };
    assert_eq!(response.req_id.as_deref(), Some("1"));
    assert_eq!(response.error(), None);
    let published: crate::messaging::Published = response.decode().unwrap();
    assert_eq!(published.sequence, 17);
    assert_eq!(
        AnyFrame::parse(&AnyFrame::Response(response).to_text()).unwrap(),
        AnyFrame::parse(text).unwrap()
    );
}

#[test]
fn error_responses_carry_their_refusal() {
    let text = r#"{"kind":"resp","reqId":null,"code":400,"type":"GenericResponse","body":{"msg":"frame is not JSON"}}"#;
    let Frame::Response(response) = AnyFrame::parse(text).unwrap() else {
        panic!("a response")
    };
    assert_eq!(response.req_id, None);
    assert_eq!(
        response.error(),
        Some(ErrorResponse::new(400, "frame is not JSON"))
    );
}

#[test]
fn malformed_frames_say_what_is_wrong() {
    assert!(matches!(
        AnyFrame::parse("{nope"),
        Err(FrameError::NotJson(_))
    ));
    assert!(
        matches!(AnyFrame::parse(r#"{"kind":"req","type":"x"}"#), Err(FrameError::NotEnvelope(m)) if m.contains("id"))
    );
    assert!(matches!(
        AnyFrame::parse("[1,2]"),
        Err(FrameError::NotEnvelope(_))
    ));
    assert_eq!(
        AnyFrame::parse(r#"{"kind":"bogus","id":"a"}"#),
        Err(FrameError::UnknownFrameKind("bogus".into()))
    );
    assert_eq!(
        salvage_id(r#"{"id":"a","kind":"bogus"}"#).as_deref(),
        Some("a")
    );
    assert_eq!(salvage_id(r#"{"id":3}"#).as_deref(), Some("3"));
}

#[test]
fn written_frames_leave_out_empty_headers_and_metadata() {
    let text = request_frame("1", ".GetClock", &json!({}), Extras::default());
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"kind": "req", "id": "1", "type": ".GetClock", "body": {}})
    );
    let text = notification_frame(".ams.ms.OnlineEventDistribution", &json!({"sequence": 2}));
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"kind": "notification", "type": ".ams.ms.OnlineEventDistribution", "body": {"sequence": 2}})
    );
}

/// Frames in the usual order and in every other, with the faults a peer
/// can send, and bodies nested about as deep as serde_json reads (one
/// level less in one pass than in two): each reads the same through
/// [`Frame::parse`] (one pass, and two when that refuses) and through the
/// two-pass reader alone.
#[test]
fn the_one_pass_reader_reads_every_frame_as_the_two_pass_reader_does() {
    let frames = [
        r#"{"kind":"req","id":"1","type":".ams.routing.SetAgentState","body":{"availability":"ONLINE"}}"#,
        r#"{"body":{"availability":"ONLINE"},"kind":"req","id":"1","type":".ams.routing.SetAgentState"}"#,
        r#"{"kind":"req","id":"1","body":{"availability":"ONLINE"},"type":".ams.routing.SetAgentState"}"#,
        r#"{"kind":"req","id":"1","type":".ams.routing.SetAgentState","body":{"availability":7}}"#,
        r#"{"kind":"req","id":"1","type":".ams.routing.SetAgentState","body":{}}"#,
        r#"{"kind":"req","id":"1","type":".GetClock","body":null}"#,
        r#"{"kind":"req","id":"1","type":".GetClock"}"#,
        r#"{"kind":"req","type":".GetClock","body":{}}"#,
        r#"{"kind":"req","id":"1","type":".NoSuchThing","body":{"a":[1,{"b":"c"}]}}"#,
        r#"{"kind":"req","id":"1","type":".GetClock","body":{},"body":{}}"#,
        r#"{"kind":"req","id":"1","type":".GetClock","type":".GetClock","body":{}}"#,
        r#"{"kind":"req","id":"1","type":".GetClock","body":{},"kind":"req"}"#,
        r#"{"kind":"r\u0065q","id":7,"type":".GetClock","body":{}}"#,
        r#"{"kind":"req","id":"0","type":"InitConnection","headers":[{"type":".ams.headers.ConsumerAuthentication","jwt":"j"}]}"#,
        r#"{"kind":"req","id":"0","type":"InitConnection","body":{},"headers":{"not":"a list"}}"#,
        r#"{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"dialogId":"c1","event":{"type":"ContentEvent","contentType":"text/plain","message":"hi"}},"metadata":[{"type":"ExternalId","id":"x"}]}"#,
        r#"{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"dialogId":"c1","event":{"message":"hi","type":"ContentEvent","contentType":"text/plain"}}}"#,
        r#"{"kind":"notification","type":".ams.ms.OnlineEventDistribution","body":{"sequence":2,"dialogId":"c1","originatorId":"123.c","serverTimestamp":1,"event":{"type":"ContentEvent","contentType":"text/plain","message":"hello"}}}"#,
        r#"{"kind":"notification","body":{"sequence":2,"dialogId":"c1","event":{"type":"ChatStateEvent","chatState":"COMPOSING"}},"type":".ams.ms.OnlineEventDistribution"}"#,
        r#"{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[]}}"#,
        r#"{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":7}}"#,
        r#"{"kind":"notification","type":".ams.unknown","body":[1,2]}"#,
        r#"{"kind":"notification","body":{}}"#,
        r#"{"kind":"resp","reqId":"1","code":200,"type":".ams.ms.PublishEvent$Response","body":{"sequence":17}}"#,
        r#"{"body":{"sequence":17},"kind":"resp","reqId":3,"code":200}"#,
        r#"{"kind":"resp","reqId":"1","type":"x"}"#,
        r#"{"kind":"bogus","id":"a","body":{}}"#,
        r#"{"kind":null,"id":"a"}"#,
        r#"{"kind":7,"id":"a"}"#,
        r#"{"id":"a","type":"x","body":{}}"#,
        r#"{"kind":"req","id":"1","type":".GetClock","body":{}} trailing"#,
        r#"{"kind":"req","id":"1","type":".GetClock","body":{"#,
        "[1,2]",
        "\"req\"",
        "",
    ];
    let nested = (125..=129).flat_map(|depth| {
        let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        [
            format!(r#"{{"kind":"notification","type":".ams.unknown","body":{body}}}"#),
            format!(r#"{{"kind":"req","id":"1","type":"GetClock","body":{body}}}"#),
        ]
    });
    let frames: Vec<String> = frames
        .iter()
        .map(|text| text.to_string())
        .chain(nested)
        .collect();
    for text in frames.iter().map(String::as_str) {
        reads_alike::<crate::agent::AgentRequest, Untyped>(text);
        reads_alike::<Untyped, crate::agent::AgentNotification>(text);
        reads_alike::<crate::consumer::ConsumerRequest, Untyped>(text);
        reads_alike::<Untyped, crate::consumer::ConsumerNotification>(text);
        reads_alike::<Untyped, Untyped>(text);
    }
}

/// `text` reads the same in one pass (or two when that refuses) and in two.
fn reads_alike<Q, N>(text: &str)
where
    Q: RequestSet + PartialEq + std::fmt::Debug,
    N: NotificationSet + PartialEq + std::fmt::Debug,
{
    assert_eq!(
        Frame::<Q, N>::parse(text),
        Frame::<Q, N>::parse_in_two_passes(text),
        "{text}"
    );
}
