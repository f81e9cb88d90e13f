//! The messaging kinds' tests: frames as peers write them.

use super::*;
use crate::agent::{AgentClientFrame, AgentNotification, AgentRequest, AgentServerFrame};
use crate::common::Empty;
use crate::consumer::{
    ConsumerClientFrame, ConsumerNotification, ConsumerRequest, ConsumerServerFrame,
};
use crate::envelope::{Extras, Frame};
use crate::error::FrameError;
use crate::kind::{Agent, Consumer};
use serde_json::json;

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn any_answer_to_a_publish_reads_with_sequence_zero_when_it_has_none() {
    for (body, sequence) in [
        (json!({"sequence": 4}), 4),
        (json!(null), 0),
        (json!("OK"), 0),
        (json!({}), 0),
    ] {
        let published: Published = serde_json::from_value(body).unwrap();
        assert_eq!(published.sequence, sequence);
    }
}

#[test]
fn a_consumer_publishes_text_and_is_answered_its_sequence() {
    let text = r#"{"kind":"req","id":"p1","type":"ms.PublishEvent","body":{"dialogId":"c1","conversationId":"c1","event":{"type":"ContentEvent","contentType":"text/plain","message":"hi"}}}"#;
    let Ok(Frame::Request(incoming)) = ConsumerServerFrame::parse(text) else {
        panic!("a request")
    };
    let ConsumerRequest::PublishEvent(publish) = &incoming.request else {
        panic!("PublishEvent")
    };
    let Event::Content(content) = &publish.event else {
        panic!("a ContentEvent")
    };
    assert_eq!(content.as_text(), Some("hi"));
    assert_eq!(json_of(&Consumer::request("p1", publish)), json_of(text));
    assert_eq!(
        json_of(&incoming.respond(200, &Published { sequence: 3 })),
        json!({"kind": "resp", "reqId": "p1", "code": 200, "type": "ms.PublishEventResponse", "body": {"sequence": 3}})
    );
}

#[test]
fn an_agent_publishes_structured_content_with_quick_replies() {
    let replies = json!({"type": "quickReplies", "itemsPerRow": 8, "replies": [{"type": "button", "title": "Yes",
        "tooltip": "Yes", "click": {"actions": [{"type": "publishText", "text": "yes"}]}}]});
    let content = json!({"type": "vertical", "elements": [{"type": "text", "text": "Pick one"}]});
    let publish = PublishEvent::new(
        "c1",
        RichContentEvent {
            content: content.clone(),
            quick_replies: Some(replies.clone()),
        },
    );
    let text = Agent::request("2", &publish);
    assert_eq!(
        json_of(&text),
        json!({"kind": "req", "id": "2", "type": ".ams.ms.PublishEvent", "body": {"dialogId": "c1",
            "event": {"type": "RichContentEvent", "content": content, "quickReplies": replies}}})
    );
    let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(&text) else {
        panic!("a request")
    };
    assert_eq!(incoming.request, AgentRequest::PublishEvent(publish));
    assert_eq!(incoming.response_kind(), ".ams.ms.PublishEvent$Response");
}

#[test]
fn receipts_chat_states_and_private_messages_are_typed() {
    let read: Event = serde_json::from_value(
        json!({"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [8]}),
    )
    .unwrap();
    assert_eq!(
        read,
        Event::AcceptStatus(AcceptStatusEvent {
            status: AcceptStatus::Read,
            sequence_list: vec![8]
        })
    );
    let typing: Event =
        serde_json::from_value(json!({"type": "ChatStateEvent", "chatState": "COMPOSING"}))
            .unwrap();
    assert_eq!(
        typing,
        Event::ChatState(ChatStateEvent {
            chat_state: ChatState::Composing
        })
    );
    let private = PublishEvent {
        message_audience: Some(MessageAudience::AgentsAndManagers),
        ..PublishEvent::new("c1", ContentEvent::text("for agents only"))
    };
    assert_eq!(
        serde_json::to_value(&private).unwrap()["messageAudience"],
        "AGENTS_AND_MANAGERS"
    );
    let unknown: Event =
        serde_json::from_value(json!({"type": "FormSubmissionEvent", "x": 1})).unwrap();
    assert_eq!(unknown.tag(), "FormSubmissionEvent");
}

#[test]
fn hosted_files_are_content_events_with_a_file() {
    let event: Event = serde_json::from_value(json!({"type": "ContentEvent", "contentType": "hosted/file",
        "message": {"caption": "me", "relativePath": "/f/1.png", "fileType": "PNG", "preview": "data:"}})).unwrap();
    let Event::Content(content) = event else {
        panic!("a ContentEvent")
    };
    assert_eq!(content.content_type, ContentType::HostedFile);
    assert!(matches!(content.message, Message::File(ref f) if f.file_type == "PNG"));
    assert_eq!(content.as_text(), None);
    // A message that is neither text nor a file is kept as sent.
    let event: Event =
        serde_json::from_str(r#"{"type":"ContentEvent","message":{"x":[1]}}"#).unwrap();
    let Event::Content(content) = event else {
        panic!("a ContentEvent")
    };
    assert_eq!(content.message, Message::Other(json!({"x": [1]})));
}

#[test]
fn an_event_without_a_type_or_with_a_bad_body_is_refused() {
    let text = r#"{"kind":"req","id":"3","type":".ams.ms.PublishEvent","body":{"dialogId":"c1","event":{"type":"ContentEvent"}}}"#;
    let Err(FrameError::BadBody { reason, .. }) = AgentServerFrame::parse(text) else {
        panic!("a bad body")
    };
    assert!(
        reason.contains("ContentEvent type") && reason.contains("message"),
        "{reason}"
    );
    let text = r#"{"kind":"req","id":"3","type":".ams.ms.PublishEvent","body":{"event":{"type":"ContentEvent","message":"x"}}}"#;
    assert!(
        matches!(AgentServerFrame::parse(text), Err(FrameError::BadBody { reason, .. }) if reason.contains("dialogId"))
    );
    // A conversation id alone names its MAIN dialog.
    let text = r#"{"kind":"req","id":"3","type":"ms.PublishEvent","body":{"conversationId":"c1","event":{"type":"ChatStateEvent","chatState":"ACTIVE"}}}"#;
    let Ok(Frame::Request(incoming)) = ConsumerServerFrame::parse(text) else {
        panic!("a request")
    };
    let ConsumerRequest::PublishEvent(publish) = incoming.request else {
        panic!("PublishEvent")
    };
    assert_eq!(publish.dialog_id, "c1");
}

/// The live event an agent receives (as the hub sends it).
const ONLINE: &str = r#"{"kind":"notification","type":".ams.ms.OnlineEventDistribution","body":{"sequence":2,"dialogId":"c1","conversationId":"c1","originatorId":"123.cons-1","originatorPId":"cons-1","originatorMetadata":{"id":"cons-1","role":"CONSUMER"},"serverTimestamp":1517000899442,"event":{"type":"ContentEvent","contentType":"text/plain","message":"hello"}}}"#;

#[test]
fn agents_receive_live_events_as_online_event_distribution() {
    let Ok(Frame::Notification(AgentNotification::OnlineEvent(record))) =
        AgentClientFrame::parse(ONLINE)
    else {
        panic!("an OnlineEventDistribution")
    };
    assert_eq!(record.sequence, Some(2));
    assert_eq!(record.role(), Some(&Role::Consumer));
    assert_eq!(record.originator_pid.as_ref().unwrap(), "cons-1");
    assert_eq!(json_of(&Agent::notification(&record)), json_of(ONLINE));
}

#[test]
fn history_pages_are_lists_of_event_records() {
    let text = r#"{"kind":"req","id":"4","type":".ams.ms.QueryMessages","body":{"dialogId":"c1","newerThanSequence":0,"maxQuantity":100}}"#;
    let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(text) else {
        panic!("a request")
    };
    let query = QueryMessages {
        dialog_id: "c1".into(),
        newer_than_sequence: Some(0),
        max_quantity: Some(100),
    };
    assert_eq!(incoming.request, AgentRequest::QueryMessages(query));
    let AgentClientFrame::Notification(AgentNotification::OnlineEvent(record)) =
        AgentClientFrame::parse(ONLINE).unwrap()
    else {
        panic!("a notification")
    };
    let answer = incoming.respond(200, &vec![record.clone()]);
    let Ok(Frame::Response(response)) = AgentClientFrame::parse(&answer) else {
        panic!("a response")
    };
    assert_eq!(response.kind, ".ams.ms.QueryMessages$Response");
    assert_eq!(response.decode::<Vec<EventRecord>>().unwrap(), vec![record]);
}

#[test]
fn consumers_subscribe_to_a_dialog_and_receive_its_events() {
    let text = r#"{"kind":"req","id":"3","type":"ms.SubscribeMessagingEvents","body":{"dialogId":"c1","fromSeq":0}}"#;
    let Ok(Frame::Request(incoming)) = ConsumerServerFrame::parse(text) else {
        panic!("a request")
    };
    assert_eq!(
        incoming.request,
        ConsumerRequest::SubscribeMessagingEvents(SubscribeMessagingEvents {
            dialog_id: "c1".into(),
            conversation_id: None,
            from_seq: 0
        })
    );
    assert_eq!(
        json_of(&incoming.respond(200, &Empty {}))["type"],
        "GenericSubscribeResponse"
    );
    // The agent side serves the consumer's name of the request too.
    let Ok(Frame::Request(agent)) = AgentServerFrame::parse(text) else {
        panic!("a request")
    };
    assert_eq!(agent.response_kind(), "GenericSubscribeResponse");

    let note = r#"{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[{"sequence":2,"originatorId":"pid-456","originatorMetadata":{"id":"pid-456","role":"ASSIGNED_AGENT"},"serverTimestamp":5,"event":{"type":"ContentEvent","contentType":"text/plain","message":"ok","quickReplies":{"type":"quickReplies","replies":[]}},"conversationId":"c1","dialogId":"c1","messageAudience":"ALL"},{"originatorId":"pid-456","originatorMetadata":{"id":"pid-456","role":"ASSIGNED_AGENT"},"serverTimestamp":6,"event":{"type":"ChatStateEvent","chatState":"COMPOSING"},"conversationId":"c1","dialogId":"c1"}]}}"#;
    let Ok(Frame::Notification(ConsumerNotification::MessagingEvents(events))) =
        ConsumerClientFrame::parse(note)
    else {
        panic!("a MessagingEventNotification")
    };
    assert_eq!(events.changes[0].role(), Some(&Role::AssignedAgent));
    assert_eq!(
        events.changes[0].message_audience,
        Some(MessageAudience::All)
    );
    assert_eq!(events.changes[1].sequence, None);
    assert_eq!(json_of(&Consumer::notification(&events)), json_of(note));
    // Agents get a dialog's history under the same name.
    assert!(matches!(
        AgentClientFrame::parse(note),
        Ok(Frame::Notification(AgentNotification::MessagingEvents(_)))
    ));
}

#[test]
fn encoded_metadata_is_base64_of_at_most_5k_and_a_received_one_is_kept_as_sent() {
    let padded = EncodedMetadata::new("ewoic29tZUluZm8iOiAiSSB3YXMgZW5jb2RlZCIKfQ==").unwrap();
    assert_eq!(
        EncodedMetadata::new("ewoic29tZUluZm8iOiAiSSB3YXMgZW5jb2RlZCIKfQ"),
        Ok(EncodedMetadata::as_written(
            "ewoic29tZUluZm8iOiAiSSB3YXMgZW5jb2RlZCIKfQ"
        )),
        "the padding may be left out"
    );
    assert!(matches!(
        EncodedMetadata::new("not base64!"),
        Err(EncodedMetadataError::NotBase64(_))
    ));
    assert_eq!(EncodedMetadata::new(""), Err(EncodedMetadataError::Empty));
    // What is not text never passes, whatever its JSON reads as.
    let number = EncodedMetadata::from_json(&json!(1234));
    assert_eq!(
        number.check(),
        Err(EncodedMetadataError::NotText("1234".into()))
    );
    let longest = "A".repeat(EncodedMetadata::MAX_LEN);
    assert!(EncodedMetadata::new(longest.clone()).is_ok());
    assert_eq!(
        EncodedMetadata::new(longest + "AAAA"),
        Err(EncodedMetadataError::TooLong {
            length: EncodedMetadata::MAX_LEN + 4
        })
    );

    // It rides in the request's envelope, beside the body; read back, even
    // a bad one is kept as sent (the platform judges it with `check`).
    let publish = PublishEvent::new("c1", ContentEvent::text("hi"));
    let extras = Extras {
        encoded_metadata: Some(&padded),
        ..Default::default()
    };
    let text = Agent::request_with("p1", &publish, extras);
    assert_eq!(
        json_of(&text),
        json!({"kind": "req", "id": "p1", "type": ".ams.ms.PublishEvent", "body": {"dialogId": "c1",
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}},
            "encodedMetadata": padded.as_str()})
    );
    let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(&text) else {
        panic!("a request")
    };
    assert_eq!(incoming.encoded_metadata, Some(padded.clone()));
    let bad = text.replace(padded.as_str(), "%%");
    let Ok(Frame::Request(incoming)) = AgentServerFrame::parse(&bad) else {
        panic!("a request")
    };
    assert!(incoming.encoded_metadata.unwrap().check().is_err());
    let not_text = text.replace(&format!("\"{}\"", padded.as_str()), "7");
    let Err(FrameError::BadBody { reason, .. }) = AgentServerFrame::parse(&not_text) else {
        panic!("refused")
    };
    assert!(reason.starts_with("encodedMetadata"), "{reason}");

    // A live event's record carries it.
    let record: EventRecord = serde_json::from_value(json!({"sequence": 2, "dialogId": "c1",
        "originatorId": "a", "serverTimestamp": 1, "encodedMetadata": padded.as_str(),
        "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}}))
    .unwrap();
    assert_eq!(record.encoded_metadata, Some(padded));
    // Metadata that is not text costs the event nothing.
    let odd: EventRecord = serde_json::from_value(json!({"sequence": 3, "dialogId": "c1",
        "originatorId": "a", "serverTimestamp": 1, "encodedMetadata": {"x": 1},
        "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}}))
    .unwrap();
    assert_eq!(odd.encoded_metadata, None);
}
