//! Notes: a signed-in user's short private notes. The worked example of
//! docs/extending.md (a page, a form, a table, a setting, first-login work); delete it
//! when your product has pages of its own.
//!
//! Every query here is scoped by the user id the caller got from the session, never by
//! anything the browser sent: a user reads and adds only their own notes.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::models::{NewNote, Note};
use crate::db::schema::{notes, users};
use crate::db::{self, DbError, DbPool};
use crate::support::i18n::Lang;

/// The longest note, in characters (the `notes.body` column has the same CHECK).
pub const MAX_NOTE_CHARS: usize = 1000;

/// The message (locales/*/main.ftl) of the note every new account starts with, written
/// in the language of the first login (see `accounts::on_first_login`).
pub const WELCOME_NOTE: &str = "notes-welcome";

/// Why a note was refused. The notes page tells the person who wrote it, in their
/// language (`note-*` in locales/); the texts here are for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteRejected {
    #[error("empty note")]
    Empty,
    #[error("note of {0} characters, over the limit")]
    TooLong(usize),
    #[error("note with control characters")]
    ControlCharacters,
}

/// The text of a note, checked: the only thing `add_note` accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteText(String);

impl NoteText {
    /// Trims the text and checks it. Line breaks count as one character each, as a
    /// browser counts them for the textarea's `maxlength` (it sends them as `\r\n`).
    pub fn parse(raw: &str) -> Result<NoteText, NoteRejected> {
        let text = raw.trim().replace("\r\n", "\n");
        let chars = text.chars().count();
        if chars == 0 {
            return Err(NoteRejected::Empty);
        }
        if chars > MAX_NOTE_CHARS {
            return Err(NoteRejected::TooLong(chars));
        }
        // PostgreSQL refuses NUL in text; the others have no business in a note either.
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(NoteRejected::ControlCharacters);
        }
        Ok(NoteText(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The user's `limit` newest notes, newest first.
pub async fn list_notes(pool: &DbPool, user_id: i64, limit: i64) -> Result<Vec<Note>, DbError> {
    let mut conn = db::connection(pool).await?;
    Ok(notes::table
        .filter(notes::user_id.eq(user_id))
        .order((notes::created_at.desc(), notes::id.desc()))
        .limit(limit)
        .select(Note::as_select())
        .load(&mut conn)
        .await?)
}

/// Adds a note for the user; false, with nothing written, when the user no longer
/// exists (deleted in another tab after the session was checked).
///
/// The user row is locked (`FOR KEY SHARE`, which a login's update does not wait for)
/// before the insert: a deletion under way is waited for and then seen as "no user",
/// instead of the insert failing on the foreign key.
pub async fn add_note(pool: &DbPool, user_id: i64, text: &NoteText) -> Result<bool, DbError> {
    let mut conn = db::connection(pool).await?;
    let added = conn
        .transaction(async |conn| {
            let user: Option<i64> = users::table
                .find(user_id)
                .select(users::id)
                .for_key_share()
                .first(conn)
                .await
                .optional()?;
            if user.is_none() {
                return Ok(false);
            }
            insert_note(conn, user_id, text.as_str()).await?;
            Ok::<_, diesel::result::Error>(true)
        })
        .await?;
    Ok(added)
}

/// Writes the welcome note, in `lang`, with `conn`: called inside the first-login
/// transaction, so a new account always has it, or the account is not created at all.
pub async fn add_welcome_note(
    conn: &AsyncPgConnection,
    user_id: i64,
    lang: &Lang,
) -> QueryResult<()> {
    insert_note(conn, user_id, &lang.text(WELCOME_NOTE)).await
}

async fn insert_note(mut conn: &AsyncPgConnection, user_id: i64, body: &str) -> QueryResult<()> {
    diesel::insert_into(notes::table)
        .values(NewNote { user_id, body })
        .execute(&mut conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_trimmed_and_its_line_breaks_count_once() {
        let text = NoteText::parse("  first line\r\nsecond line\n").unwrap();
        assert_eq!(text.as_str(), "first line\nsecond line");
        let full = format!("{}\r\n{}", "a".repeat(500), "b".repeat(499));
        assert!(
            NoteText::parse(&full).is_ok(),
            "1000 characters with the break"
        );
    }

    #[test]
    fn empty_over_long_and_control_character_notes_are_refused_with_a_reason() {
        assert_eq!(NoteText::parse(" \r\n\t "), Err(NoteRejected::Empty));
        assert_eq!(
            NoteText::parse(&"é".repeat(MAX_NOTE_CHARS + 1)),
            Err(NoteRejected::TooLong(MAX_NOTE_CHARS + 1))
        );
        assert!(NoteText::parse(&"é".repeat(MAX_NOTE_CHARS)).is_ok());
        assert_eq!(
            NoteText::parse("a\0b"),
            Err(NoteRejected::ControlCharacters)
        );
    }
}
