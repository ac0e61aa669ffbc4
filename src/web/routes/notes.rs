//! `/notes`: the signed-in user's notes, the worked example of docs/extending.md.
//!
//! `GET /notes` lists them with a form; `POST /notes` adds one. Both are for signed-in
//! visitors only (`SignedInUser`), and the post is a `SameSiteForm`: from our own page,
//! with the session's CSRF token, or refused with 403 before the handler runs.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::models::Note;
use crate::domain::notes::{MAX_NOTE_CHARS, NoteRejected, NoteText, add_note, list_notes};
use crate::support::pages::{PageContext, html_response, see_other};
use crate::web::csrf::{CsrfProtected, SameSiteForm};
use crate::web::error::AppError;
use crate::web::session_state::{SignedInUser, TypedSession, page_context};
use crate::web::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/notes")
            .route(web::get().to(notes_page))
            .route(web::post().to(post_note)),
    );
}

#[derive(Template)]
#[template(path = "notes.html")]
struct NotesPage {
    page: PageContext,
    /// For the form: `SameSiteForm` accepts the post only with this token.
    csrf_token: String,
    notes: Vec<Note>,
    max_chars: usize,
    /// A refused note, shown again with why, so it can be fixed rather than retyped.
    draft: String,
    problem: Option<NoteRejected>,
}

impl NotesPage {
    /// Why the note was refused, in the page's language.
    fn problem_text(&self) -> Option<String> {
        let lang = &self.page.lang;
        Some(match self.problem.as_ref()? {
            NoteRejected::Empty => lang.text("note-empty"),
            NoteRejected::TooLong(chars) => lang.text_with(
                "note-too-long",
                &[("max", MAX_NOTE_CHARS.into()), ("count", (*chars).into())],
            ),
            NoteRejected::ControlCharacters => lang.text("note-control-characters"),
        })
    }
}

async fn notes_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    user: SignedInUser,
) -> Result<HttpResponse, AppError> {
    let html = render_notes_page(&req, &state, &session, user, String::new(), None).await?;
    Ok(html_response(html))
}

/// The form's fields: the note, and the CSRF token every form of ours carries.
#[derive(Deserialize)]
struct NoteForm {
    csrf_token: String,
    body: String,
}

impl CsrfProtected for NoteForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn post_note(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    user: SignedInUser,
    form: SameSiteForm<NoteForm>,
) -> Result<HttpResponse, AppError> {
    let SameSiteForm(form) = form;
    match NoteText::parse(&form.body) {
        Ok(text) => {
            if !add_note(&state.pool, user.user_id, &text).await? {
                // The account was deleted (in another tab) after the session was
                // checked: the session ends, as at the next request anyway.
                session.end_signed_in();
                return Ok(see_other("/"));
            }
            // Post/Redirect/Get: reloading the list does not post the note again.
            Ok(see_other("/notes"))
        }
        Err(rejected) => {
            // A person's mistake, not an error page: the form again, with the reason.
            let problem = Some(rejected);
            let html = render_notes_page(&req, &state, &session, user, form.body, problem).await?;
            let mut response = html_response(html);
            *response.status_mut() = StatusCode::BAD_REQUEST;
            Ok(response)
        }
    }
}

async fn render_notes_page(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    user: SignedInUser,
    draft: String,
    problem: Option<NoteRejected>,
) -> Result<String, AppError> {
    let notes = list_notes(&state.pool, user.user_id, state.notes_per_page).await?;
    Ok(NotesPage {
        page: page_context(req),
        csrf_token: session.csrf_token_or_new()?,
        notes,
        max_chars: MAX_NOTE_CHARS,
        draft,
        problem,
    }
    .render()?)
}
