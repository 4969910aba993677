//! The part of Signal's message-backup schema (`Backup.proto`, package
//! `signal.backup`, proto3; published by Signal in libsignal and
//! Signal-Android) that spoor reads, with Signal's field numbers. Fields
//! not declared here are skipped by the decoder; they stay in the
//! original. Each message serialises to the proto3 JSON mapping (64-bit
//! integers as strings, bytes as base64, enums by name), the shape of the
//! plaintext export's `main.jsonl`, so both are read by one reader.

use data_encoding::BASE64;
use serde::{Serialize, Serializer};

/// The first message of the stream.
#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BackupInfo {
    #[prost(uint64, tag = "1")]
    #[serde(serialize_with = "int")]
    pub(crate) version: u64,
    #[prost(uint64, tag = "2")]
    #[serde(serialize_with = "int")]
    pub(crate) backup_time_ms: u64,
    /// A secret: never serialised.
    #[prost(bytes = "vec", tag = "3")]
    #[serde(skip)]
    pub(crate) media_root_backup_key: Vec<u8>,
    #[prost(string, tag = "4")]
    pub(crate) current_app_version: String,
    #[prost(string, tag = "5")]
    pub(crate) first_app_version: String,
}

/// Every message after the first.
#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub(crate) struct Frame {
    #[prost(oneof = "FrameItem", tags = "1, 2, 3, 4, 5, 6, 7, 8")]
    #[serde(flatten)]
    pub(crate) item: Option<FrameItem>,
}

#[derive(Clone, PartialEq, prost::Oneof, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum FrameItem {
    #[prost(message, tag = "1")]
    Account(AccountData),
    #[prost(message, tag = "2")]
    Recipient(Recipient),
    #[prost(message, tag = "3")]
    Chat(Chat),
    #[prost(message, tag = "4")]
    ChatItem(ChatItem),
    #[prost(message, tag = "5")]
    StickerPack(Opaque),
    #[prost(message, tag = "6")]
    AdHocCall(Opaque),
    #[prost(message, tag = "7")]
    NotificationProfile(Opaque),
    #[prost(message, tag = "8")]
    ChatFolder(Opaque),
}

/// A message whose fields spoor does not read (they stay in the original).
#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub(crate) struct Opaque {}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountData {
    #[prost(string, tag = "4")]
    pub(crate) given_name: String,
    #[prost(string, tag = "5")]
    pub(crate) family_name: String,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub(crate) struct Recipient {
    #[prost(uint64, tag = "1")]
    #[serde(serialize_with = "int")]
    pub(crate) id: u64,
    #[prost(oneof = "Destination", tags = "2, 3, 4, 5, 6, 7")]
    #[serde(flatten)]
    pub(crate) destination: Option<Destination>,
}

#[derive(Clone, PartialEq, prost::Oneof, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Destination {
    #[prost(message, tag = "2")]
    Contact(Contact),
    #[prost(message, tag = "3")]
    Group(Group),
    #[prost(message, tag = "4")]
    DistributionList(Opaque),
    #[prost(message, tag = "5")]
    #[serde(rename = "self")]
    SelfRecipient(Opaque),
    #[prost(message, tag = "6")]
    ReleaseNotes(Opaque),
    #[prost(message, tag = "7")]
    CallLink(Opaque),
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Contact {
    #[prost(bytes = "vec", optional, tag = "1")]
    #[serde(serialize_with = "opt_bytes", skip_serializing_if = "Option::is_none")]
    pub(crate) aci: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "2")]
    #[serde(serialize_with = "opt_bytes", skip_serializing_if = "Option::is_none")]
    pub(crate) pni: Option<Vec<u8>>,
    #[prost(string, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) username: Option<String>,
    #[prost(uint64, optional, tag = "4")]
    #[serde(serialize_with = "opt_int", skip_serializing_if = "Option::is_none")]
    pub(crate) e164: Option<u64>,
    #[prost(string, optional, tag = "11")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) profile_given_name: Option<String>,
    #[prost(string, optional, tag = "12")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) profile_family_name: Option<String>,
    #[prost(string, tag = "18")]
    pub(crate) system_given_name: String,
    #[prost(string, tag = "19")]
    pub(crate) system_family_name: String,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Group {
    /// A secret of the group: never serialised.
    #[prost(bytes = "vec", tag = "1")]
    #[serde(skip)]
    pub(crate) master_key: Vec<u8>,
    #[prost(message, optional, tag = "5")]
    pub(crate) snapshot: Option<GroupSnapshot>,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub(crate) struct GroupSnapshot {
    #[prost(message, optional, tag = "2")]
    pub(crate) title: Option<GroupAttributeBlob>,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub(crate) struct GroupAttributeBlob {
    #[prost(string, optional, tag = "1")]
    pub(crate) title: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Chat {
    #[prost(uint64, tag = "1")]
    #[serde(serialize_with = "int")]
    pub(crate) id: u64,
    #[prost(uint64, tag = "2")]
    #[serde(serialize_with = "int")]
    pub(crate) recipient_id: u64,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChatItem {
    #[prost(uint64, tag = "1")]
    #[serde(serialize_with = "int")]
    pub(crate) chat_id: u64,
    #[prost(uint64, tag = "2")]
    #[serde(serialize_with = "int")]
    pub(crate) author_id: u64,
    #[prost(uint64, tag = "3")]
    #[serde(serialize_with = "int")]
    pub(crate) date_sent: u64,
    #[prost(uint64, optional, tag = "5")]
    #[serde(serialize_with = "opt_int", skip_serializing_if = "Option::is_none")]
    pub(crate) expires_in_ms: Option<u64>,
    #[prost(message, repeated, tag = "6")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) revisions: Vec<ChatItem>,
    #[prost(oneof = "Direction", tags = "8, 9, 10")]
    #[serde(flatten)]
    pub(crate) direction: Option<Direction>,
    #[prost(
        oneof = "ChatItemKind",
        tags = "11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22"
    )]
    #[serde(flatten)]
    pub(crate) item: Option<ChatItemKind>,
}

#[derive(Clone, PartialEq, prost::Oneof, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Direction {
    #[prost(message, tag = "8")]
    Incoming(Received),
    #[prost(message, tag = "9")]
    Outgoing(Sent),
    #[prost(message, tag = "10")]
    Directionless(Opaque),
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Received {
    #[prost(uint64, tag = "1")]
    #[serde(serialize_with = "int")]
    pub(crate) date_received: u64,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Sent {
    #[prost(uint64, tag = "2")]
    #[serde(serialize_with = "int")]
    pub(crate) date_received: u64,
}

/// One frame's item at a time, decoded and dropped: its size costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, prost::Oneof, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum ChatItemKind {
    #[prost(message, tag = "11")]
    StandardMessage(StandardMessage),
    #[prost(message, tag = "12")]
    ContactMessage(Opaque),
    #[prost(message, tag = "13")]
    StickerMessage(Opaque),
    #[prost(message, tag = "14")]
    RemoteDeletedMessage(Opaque),
    #[prost(message, tag = "15")]
    #[serde(rename = "updateMessage")]
    Update(ChatUpdateMessage),
    #[prost(message, tag = "16")]
    PaymentNotification(Opaque),
    #[prost(message, tag = "17")]
    GiftBadge(Opaque),
    #[prost(message, tag = "18")]
    ViewOnceMessage(Opaque),
    #[prost(message, tag = "19")]
    DirectStoryReplyMessage(Opaque),
    #[prost(message, tag = "20")]
    Poll(Opaque),
    #[prost(message, tag = "22")]
    AdminDeletedMessage(AdminDeleted),
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AdminDeleted {
    #[prost(uint64, tag = "1")]
    #[serde(serialize_with = "int")]
    pub(crate) admin_id: u64,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StandardMessage {
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) quote: Option<Quote>,
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<Text>,
    #[prost(message, repeated, tag = "3")]
    pub(crate) attachments: Vec<MessageAttachment>,
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) long_text: Option<FilePointer>,
    #[prost(message, repeated, tag = "6")]
    pub(crate) reactions: Vec<Reaction>,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Text {
    #[prost(string, tag = "1")]
    pub(crate) body: String,
    #[prost(message, repeated, tag = "2")]
    pub(crate) body_ranges: Vec<BodyRange>,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BodyRange {
    #[prost(uint32, tag = "1")]
    pub(crate) start: u32,
    #[prost(uint32, tag = "2")]
    pub(crate) length: u32,
    #[prost(bytes = "vec", optional, tag = "3")]
    #[serde(serialize_with = "opt_bytes", skip_serializing_if = "Option::is_none")]
    pub(crate) mention_aci: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Quote {
    #[prost(uint64, optional, tag = "1")]
    #[serde(serialize_with = "opt_int", skip_serializing_if = "Option::is_none")]
    pub(crate) target_sent_timestamp: Option<u64>,
    #[prost(uint64, tag = "2")]
    #[serde(serialize_with = "int")]
    pub(crate) author_id: u64,
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<Text>,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Reaction {
    #[prost(string, tag = "1")]
    pub(crate) emoji: String,
    #[prost(uint64, tag = "2")]
    #[serde(serialize_with = "int")]
    pub(crate) author_id: u64,
    #[prost(uint64, tag = "3")]
    #[serde(serialize_with = "int")]
    pub(crate) sent_timestamp: u64,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub(crate) struct MessageAttachment {
    #[prost(message, optional, tag = "1")]
    pub(crate) pointer: Option<FilePointer>,
    #[prost(int32, tag = "2")]
    #[serde(serialize_with = "attachment_flag")]
    pub(crate) flag: i32,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilePointer {
    #[prost(string, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content_type: Option<String>,
    #[prost(string, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) file_name: Option<String>,
    #[prost(string, optional, tag = "10")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) caption: Option<String>,
    #[prost(message, optional, tag = "13")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) locator_info: Option<LocatorInfo>,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LocatorInfo {
    #[prost(uint32, tag = "3")]
    pub(crate) size: u32,
    #[prost(bytes = "vec", optional, tag = "10")]
    #[serde(serialize_with = "opt_bytes", skip_serializing_if = "Option::is_none")]
    pub(crate) plaintext_hash: Option<Vec<u8>>,
    /// The attachment's own key in the local media pool (AES key ‖ HMAC
    /// key): read to decrypt it, never serialised.
    #[prost(bytes = "vec", optional, tag = "9")]
    #[serde(skip)]
    pub(crate) local_key: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub(crate) struct ChatUpdateMessage {
    #[prost(oneof = "Update", tags = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11")]
    #[serde(flatten)]
    pub(crate) update: Option<Update>,
}

#[derive(Clone, PartialEq, prost::Oneof, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Update {
    #[prost(message, tag = "1")]
    #[serde(rename = "simpleUpdate")]
    Simple(SimpleChatUpdate),
    #[prost(message, tag = "2")]
    GroupChange(Opaque),
    #[prost(message, tag = "3")]
    ExpirationTimerChange(Opaque),
    #[prost(message, tag = "4")]
    ProfileChange(Opaque),
    #[prost(message, tag = "5")]
    ThreadMerge(Opaque),
    #[prost(message, tag = "6")]
    SessionSwitchover(Opaque),
    #[prost(message, tag = "7")]
    IndividualCall(Opaque),
    #[prost(message, tag = "8")]
    GroupCall(Opaque),
    #[prost(message, tag = "9")]
    LearnedProfileChange(Opaque),
    #[prost(message, tag = "10")]
    PollTerminate(Opaque),
    #[prost(message, tag = "11")]
    PinMessage(Opaque),
}

#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub(crate) struct SimpleChatUpdate {
    #[prost(int32, tag = "1")]
    #[serde(rename = "type", serialize_with = "simple_update_type")]
    pub(crate) kind: i32,
}

fn int<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

fn opt_int<S: Serializer>(value: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

fn opt_bytes<S: Serializer>(value: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.serialize_str(&BASE64.encode(v)),
        None => s.serialize_none(),
    }
}

/// `MessageAttachment.Flag` by name.
fn attachment_flag<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    enum_name(&["NONE", "VOICE_MESSAGE", "BORDERLESS", "GIF"], *value, s)
}

/// `SimpleChatUpdate.Type` by name.
fn simple_update_type<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    enum_name(
        &[
            "UNKNOWN",
            "JOINED_SIGNAL",
            "IDENTITY_UPDATE",
            "IDENTITY_VERIFIED",
            "IDENTITY_DEFAULT",
            "CHANGE_NUMBER",
            "RELEASE_CHANNEL_DONATION_REQUEST",
            "END_SESSION",
            "CHAT_SESSION_REFRESH",
            "BAD_DECRYPT",
            "PAYMENTS_ACTIVATED",
            "PAYMENT_ACTIVATION_REQUEST",
            "UNSUPPORTED_PROTOCOL_MESSAGE",
            "REPORTED_SPAM",
            "BLOCKED",
            "UNBLOCKED",
            "MESSAGE_REQUEST_ACCEPTED",
        ],
        *value,
        s,
    )
}

/// An enum value by its name, as proto3 JSON writes it; a value this
/// reader does not know by its number.
fn enum_name<S: Serializer>(names: &[&str], value: i32, s: S) -> Result<S::Ok, S::Error> {
    match usize::try_from(value).ok().and_then(|i| names.get(i)) {
        Some(name) => s.serialize_str(name),
        None => s.serialize_i32(value),
    }
}
