# English: every text of the site's pages, error pages and the sandbox.
#
# One folder per language under locales/, named by its language tag (en, nl, de, ...),
# with a main.ftl that has every message this file has (a test compares them). Messages
# whose id ends in -html may contain markup and are the only ones shown unescaped; they
# take no arguments. Everything else is escaped, arguments included.
# Syntax: https://projectfluent.org/fluent/guide/

## The language itself: its name in the language switch, and how dates read.

language-name = English
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
# $day, $month (one of the month names above), $year, $time (14:05 or 14:05:09)
datetime = { $day } { $month } { $year }, { $time } UTC

## Layout (templates/base.html)

site-name = XWMS Starter
# Search engines show these under the page's title (meta description).
meta-description = A Rust web app showing “Log in with XWMS”: accounts linked by the stable XWMS sub, never by email.
meta-description-home = Log in with XWMS in a Rust web app: try the whole flow, with a sandbox standing in for XWMS when no account is set up.
meta-description-profile = Your account on XWMS Starter: who XWMS says you are, what changed at your last login, and your recent activity.
meta-description-sandbox = The XWMS sandbox: choose who to be and log in to the starter without an XWMS account.
meta-description-sandbox-people = The XWMS sandbox's people: change a name or an email at the stand-in XWMS, then refresh your profile.
meta-description-logged-out = Signed out of XWMS Starter: what ended here, and why XWMS may still know you.
meta-description-sessions = Your devices on XWMS Starter: every browser signed in to your account, and a way to end any of them.
skip-to-content = Skip to content
sandbox-banner-title = Sandbox: not real XWMS.
sandbox-banner-body = Logins here use a built-in stand-in for XWMS, so you can try everything without an account.
nav-account = Account
nav-language = Language
signed-in-as = Signed in as
signed-in-fallback-name = your XWMS account
nav-profile = Profile
log-out = Log out
log-in = Log in
footer-html = XWMS Starter: a reference for “Log in with XWMS” in Rust (actix-web, askama, Diesel on PostgreSQL).
    Accounts are linked by XWMS <code>sub</code>, never by email.
go-home = Go to the home page
value-none = none
value-yes = yes
value-no = no

## Home (templates/home.html)

home-title = Home
home-heading = Log in with XWMS
home-lead = This starter shows the whole “Log in with XWMS” flow in a real Rust web app:
    the redirect to XWMS, the callback, and an account that stays yours even when your email changes.
home-view-profile = View your profile
login-with-xwms = Login with XWMS
home-sandbox-hint = No XWMS account needed: the sandbox lets you pick who to be.
how-heading = How it works
how-1-title = Off to XWMS
how-1-body-html = The server asks XWMS for a login link (<code>sign-token</code>) and sends your browser there.
how-2-title = Back with a token
how-2-body-html = XWMS sends you back with a one-time token. The server checks it belongs to this browser, then asks XWMS who you are (<code>sign-token-verify</code>).
how-3-title-html = Linked by <code>sub</code>
how-3-body-html = XWMS's <code>sub</code> is like the number on a library card: you may move house or change email, the card number stays the same. So that is what your account is linked by.

## Profile (templates/profile.html)

profile-title = Your profile
profile-welcome-html = <strong>Welcome!</strong> This was the first time we saw your XWMS <code>sub</code>, so a new local account was created for you.
profile-email-changed = Your email changed from { $from } to { $to }.
profile-email-kept-html = You kept the same account because we link by <code>sub</code>, not by email.
profile-no-name = (no name)
profile-linked-identity = Linked XWMS identity
fact-user-id = Local user id
fact-sub-html = XWMS <code>sub</code>
fact-name = Name
fact-email = Email
fact-email-verified = Email verified
fact-picture = Picture
fact-first-seen = First seen
fact-last-login = Last login
refresh-button = Refresh from XWMS
refresh-hint = Your name, email and picture as XWMS has them now.
refresh-done = Refreshed from XWMS.
refresh-kept = XWMS sent no value for these, so the ones stored here are kept:
why-heading-html = Why we link your account by <code>sub</code>
why-1-html = XWMS gives every person a <code>sub</code>: a stable id that never changes.
    Think of it as the number on a library card. You may move house or change your email,
    but the card number stays the same, so the library still knows it is you.
why-2 = Email is a poor key. It may be missing, it may change, and it may be shared or claimed by
    someone else. If we looked you up by email, changing it would lock you out, and someone
    else showing the same address could get into your account.
why-3-html = So this site finds your account by <code>sub</code> only. Your email is kept as contact
    information and updated each time you log in.
profile-notes = Your notes
profile-notes-hint = A page only you can see: the worked example of adding a page, a form and a table.
activity-heading = Recent security activity
activity-hint = Every login, email change and logout on this account, newest first. IP addresses are stored only as hashes.
log-out-everywhere = Log out on all devices
log-out-everywhere-hint = Ends every session of this account, on every browser.
profile-sessions = Your devices
profile-sessions-hint = Every browser signed in to this account; end any you do not recognise.
data-heading = Your data
data-hint = Everything this site stores about you: your account, your XWMS identity link, your notes and this activity log.
data-download = Download my data
data-delete = Delete my account

## Security events, as the profile lists them

event-account_created = Account created (first login)
event-login = Logged in
event-email_changed = Email changed at XWMS
event-login_refused = Login refused
event-logout = Logged out
event-sessions_revoked = Logged out on all devices
event-account_deleted = Account deleted
event-data_exported = Downloaded my data
event-session_ended_elsewhere = Session ended from another device
# The detail of an email change: $from and $to are addresses, or value-none.
event-email-change-detail = from { $from } to { $to }

## Delete my account (templates/delete_account.html, templates/account_deleted.html)

delete-title = Delete your account
delete-heading = Delete your account?
delete-lead = This cannot be undone. Download your data first if you want a copy.
delete-goes-heading = What is deleted, at once
delete-goes-account = Your account here: name, email address and picture.
delete-goes-account-email = Your account here: name, email address ({ $email }) and picture.
delete-goes-identity = The link to your XWMS identity (sub { $sub }). Your account at XWMS itself stays as it is.
delete-goes-notes = Your notes.
delete-goes-sessions = Every session: you are logged out here and on all your other devices.
delete-stays-heading = What stays, without anything about you
delete-stays-log = The security activity log keeps what happened and when (a login, a logout), with no
    account, email address, IP hash or browser name attached.
delete-stays-record = One record that an account was deleted, and when. It is removed after { $days ->
        [one] { $days } day
       *[other] { $days } days
    }.
delete-new-account = If you log in with XWMS again later, you get a new account that knows nothing of this one.
delete-confirm = Delete my account
cancel = Cancel
deleted-title = Account deleted
deleted-heading = Your account has been deleted
deleted-lead = Your account, your notes and the link to your XWMS identity are gone, and you
    have been logged out on every device. Your account at XWMS itself is unchanged.
deleted-again = If you log in with XWMS again, you start over with a new account.
logged-out-title = Signed out
logged-out-heading = You are signed out of this site
logged-out-lead = This site has ended your session in this browser.
logged-out-everywhere = Every other session of your account, on every device, has ended too.
logged-out-xwms = You may still be signed in at XWMS: XWMS keeps a login of its own, which this site cannot end. The next “Login with XWMS” on this browser may go straight through without asking who you are.
logged-out-sandbox = The sandbox keeps no login of its own: the next login asks again who you are.
logged-out-xwms-account = Sign out at XWMS too
confirm-title = Confirm it's you
confirm-lead = This cannot be undone, so it needs a login with XWMS from the last { $minutes } minutes. Nothing has been done yet.
confirm-how = There is no password here to ask for: XWMS asks you again who you are, then brings you back here to do it.
confirm-button = Confirm with XWMS
confirm-cancel = Cancel

## Notes (templates/notes.html)

notes-title = Your notes
notes-lead-html = Short notes only you can see: the worked example of <code>docs/extending.md</code>
    (a page behind the login, a form, a table of its own).
notes-add-heading = Add a note
notes-label = Note
notes-limit = (up to { $max } characters)
notes-add = Add note
notes-newest-first = Newest first
notes-none = No notes yet.
notes-welcome = Welcome! This note was written at your first login. Notes you add here are yours alone.
note-empty = A note needs some text.
note-too-long = A note can be at most { $max } characters long; this one has { $count }.
note-control-characters = A note cannot contain control characters.

## "Continue to XWMS" (templates/continue_login.html)

continue-title = Continue to XWMS
continue-lead = Another site sent you here to log in. If you meant to log in to this site, continue to XWMS.
    If you did not, close this page: nothing has happened.

## Error pages (templates/errors/error.html)

error-code = Error { $status }
error-log-in-again = Log in again
error-reference = Reference:
error-reference-quote = Quote it if you contact us.
error-not-found-title = Page not found
error-not-found-body = There is nothing at this address. Check the link, or start from the home page.
error-missing-token-title = Login not completed
error-missing-token-said = XWMS sent you back without a login. XWMS said: “{ $message }”
error-missing-token-body = XWMS sent you back without a login token, so there is nothing to check. Please start the login again.
error-expired-title = Login took too long
error-expired-body = This login was not finished in time. For your safety it has expired; “Log in again” starts a new one.
error-link-title = This login link is not valid here
error-link-body = This login was not started in this browser, or its link was already used: a login link works only once, in the browser that clicked “Login with XWMS”. Nothing was changed; “Log in again” starts a new login.
error-rejected-title = XWMS did not accept this login
error-rejected-body = The login token was refused by XWMS: it may have expired or been used already. Please start the login again.
error-not-same-person-title = That was another XWMS account
error-not-same-person-body = To confirm, log in at XWMS as the person who is signed in here. Nothing was changed, and you are still signed in as before.
error-timeout-title = XWMS is not answering
error-timeout-body = XWMS did not answer in time. Nothing was changed; please try again in a moment.
error-xwms-title = XWMS had a problem
error-xwms-body = We could not complete the login with XWMS. Nothing was changed; please try again in a moment.
error-refresh-title = Could not refresh from XWMS
error-refresh-body = XWMS did not give this account's details. Nothing was changed; please try again later.
error-refresh-refused-body = XWMS did not give this account's details ({ $message }). Nothing was changed.
error-refresh-timeout-body = XWMS did not answer in time. Nothing was changed; please try again in a moment.
error-refresh-elsewhere-body = This account is linked through { $provider }, and this site now talks to another identity provider, which cannot speak for it. Nothing was changed.
error-forbidden-title = Request refused
error-forbidden-body = This request could not be verified as coming from this site. Please reload the page and try again.
error-wrong-host-title = Wrong address
error-wrong-host-body = This site is at { $origin }. Open it there and try again.
error-unavailable-title = Temporarily unavailable
error-unavailable-body = The service is temporarily unavailable. Nothing was changed; please try again in a moment.
error-method-title = Not allowed
error-method-body = This page cannot be used that way.
error-too-many-title = Too many requests
error-too-many-body = Please wait a moment before trying again.
error-bad-request-title = Bad request
error-bad-request-body = The request could not be understood. Please go back and try again.
error-internal-title = Something went wrong
error-internal-body = An unexpected error happened on our side. It has been logged; please try again later.

## The sandbox's login page (templates/sandbox_login.html)

sandbox-title = Sandbox login
sandbox-heading = XWMS sandbox login
sandbox-lead = This page stands in for the XWMS login screen. Pick who you want to be; the sandbox
    then sends you back to the app exactly as XWMS would.
sandbox-log-in-as = Log in as
persona-new-title = A brand-new user
persona-new-explains = A fresh sub every time: you get a new local account.
persona-ada-title = Ada Lovelace (returning user)
persona-ada-explains = sub sandbox-ada, ada@example.com, verified. Log in twice: same account.
persona-ada-new-email-title = Ada Lovelace, with a changed email
persona-ada-new-email-explains = Same sub sandbox-ada, now ada.lovelace@example.org: same account, email updated.
persona-grace-title = Grace Hopper (no email)
persona-grace-explains = XWMS sends no email, and the sub as a JSON number (190612091992).
persona-mallory-title = Mallory (unverified, claims Ada's email)
persona-mallory-explains = sub sandbox-mallory, ada@example.com unverified: a separate account, never Ada's.
sandbox-custom-title = Someone I describe
sandbox-custom-hint-html = Type your own sub, name and email below (the sandbox sends the sub as sandbox-<i>yours</i>).
sandbox-email-verified = Email verified
sandbox-outcome = What should XWMS do?
sandbox-outcome-success = Log me in
sandbox-outcome-provider-error = Fail: XWMS reports an error
sandbox-outcome-invalid-token = Fail: send back a token XWMS will reject
sandbox-outcome-server-error = Fail: XWMS crashes when the app checks the token
sandbox-continue = Continue
sandbox-people-title = People at the sandbox XWMS
sandbox-people-lead = Everyone who logged in through the sandbox, as XWMS would know them. Change a name or an email here, as a person would in their XWMS account, then use “Refresh from XWMS” on your profile.
sandbox-people-none = Nobody has logged in through the sandbox yet.
sandbox-people-save = Save at XWMS
sandbox-people-link = Change a person's name or email at the sandbox XWMS
sandbox-need-sub = Type a sub for your own user (any text, e.g. my-test-user).
sandbox-pick-someone = Pick one of the people below.

## Your devices (templates/sessions.html)

sessions-title = Your devices
sessions-lead = Every browser signed in to this account. End a session you do not recognise, or one on a device you no longer use: it is signed out at its next request.
sessions-this-device = This device
sessions-this-device-hint = To end this one, log out.
sessions-started = Signed in
sessions-last-used = Last used
sessions-end = End this session
sessions-ended = That session has ended: its browser is signed out at its next request.
sessions-already-ended = That session had already ended.
# A browser and system named from a user agent.
device-browser-on-system = { $browser } on { $system }
device-on-system = A browser on { $system }
device-unknown = An unknown browser
sessions-back = Back to your profile
