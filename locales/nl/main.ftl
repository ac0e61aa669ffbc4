# Nederlands: alle teksten van de pagina's, de foutpagina's en de sandbox.
# Dezelfde berichten als locales/en/main.ftl (een test vergelijkt ze).

## De taal zelf: de naam in de taalkeuze, en hoe datums worden geschreven.

language-name = Nederlands
month-1 = januari
month-2 = februari
month-3 = maart
month-4 = april
month-5 = mei
month-6 = juni
month-7 = juli
month-8 = augustus
month-9 = september
month-10 = oktober
month-11 = november
month-12 = december
datetime = { $day } { $month } { $year }, { $time } UTC

## Opmaak (templates/base.html)

site-name = XWMS Starter
meta-description = Een Rust-webapp die “Inloggen met XWMS” laat zien: accounts gekoppeld via de vaste XWMS-sub, nooit via het e-mailadres.
meta-description-home = Inloggen met XWMS in een Rust-webapp: probeer de hele flow, met een sandbox in plaats van XWMS als er geen account is ingesteld.
meta-description-profile = Je account bij XWMS Starter: wie je volgens XWMS bent, wat er bij je laatste login veranderde en je recente activiteit.
meta-description-sandbox = De XWMS-sandbox: kies wie je bent en log in bij de starter zonder XWMS-account.
meta-description-sandbox-people = De mensen van de XWMS-sandbox: wijzig een naam of e-mailadres bij de stand-in voor XWMS en vernieuw daarna je profiel.
meta-description-logged-out = Uitgelogd bij XWMS Starter: wat hier is beëindigd, en waarom XWMS je misschien nog kent.
meta-description-sessions = Je apparaten op XWMS Starter: elke browser die op je account is ingelogd, en een manier om elke sessie te beëindigen.
skip-to-content = Naar de inhoud
sandbox-banner-title = Sandbox: niet de echte XWMS.
sandbox-banner-body = Je logt hier in via een ingebouwde vervanger van XWMS, zodat je alles zonder account kunt proberen.
nav-account = Account
nav-language = Taal
signed-in-as = Ingelogd als
signed-in-fallback-name = je XWMS-account
nav-profile = Profiel
log-out = Uitloggen
log-in = Inloggen
footer-html = XWMS Starter: een voorbeeld van “Inloggen met XWMS” in Rust (actix-web, askama, Diesel op PostgreSQL).
    Accounts worden gekoppeld via de XWMS-<code>sub</code>, nooit via het e-mailadres.
go-home = Naar de startpagina
value-none = geen
value-yes = ja
value-no = nee

## Start (templates/home.html)

home-title = Start
home-heading = Inloggen met XWMS
home-lead = Deze starter laat de hele “Inloggen met XWMS”-flow zien in een echte Rust-webapp:
    de doorverwijzing naar XWMS, de terugkeer, en een account dat van jou blijft, ook als je e-mailadres verandert.
home-view-profile = Bekijk je profiel
login-with-xwms = Inloggen met XWMS
home-sandbox-hint = Geen XWMS-account nodig: in de sandbox kies je zelf wie je bent.
how-heading = Zo werkt het
how-1-title = Naar XWMS
how-1-body-html = De server vraagt XWMS om een inloglink (<code>sign-token</code>) en stuurt je browser daarheen.
how-2-title = Terug met een token
how-2-body-html = XWMS stuurt je terug met een token dat één keer geldig is. De server controleert of het bij deze browser hoort en vraagt XWMS dan wie je bent (<code>sign-token-verify</code>).
how-3-title-html = Gekoppeld via <code>sub</code>
how-3-body-html = De <code>sub</code> van XWMS is als het nummer op een bibliotheekpas: je kunt verhuizen of een ander e-mailadres nemen, het pasnummer blijft hetzelfde. Daarom is je account daaraan gekoppeld.

## Profiel (templates/profile.html)

profile-title = Je profiel
profile-welcome-html = <strong>Welkom!</strong> We zagen je XWMS-<code>sub</code> voor het eerst, dus er is een nieuw lokaal account voor je aangemaakt.
profile-email-changed = Je e-mailadres is gewijzigd van { $from } naar { $to }.
profile-email-kept-html = Je houdt hetzelfde account, want we koppelen via <code>sub</code>, niet via e-mail.
profile-no-name = (geen naam)
profile-linked-identity = Gekoppelde XWMS-identiteit
fact-user-id = Lokale gebruikers-id
fact-sub-html = XWMS-<code>sub</code>
fact-name = Naam
fact-email = E-mail
fact-email-verified = E-mail bevestigd
fact-picture = Foto
fact-first-seen = Voor het eerst gezien
fact-last-login = Laatst ingelogd
refresh-button = Vernieuwen vanuit XWMS
refresh-hint = Je naam, e-mailadres en foto zoals XWMS ze nu heeft.
refresh-done = Vernieuwd vanuit XWMS.
refresh-kept = XWMS stuurde hiervoor geen waarde, dus wat hier bewaard was blijft staan:
why-heading-html = Waarom we je account koppelen via <code>sub</code>
why-1-html = XWMS geeft iedereen een <code>sub</code>: een vaste id die nooit verandert.
    Zie het als het nummer op een bibliotheekpas. Je kunt verhuizen of een ander e-mailadres nemen,
    maar het pasnummer blijft hetzelfde, dus de bibliotheek weet nog steeds dat jij het bent.
why-2 = Een e-mailadres is een slechte sleutel. Het kan ontbreken, veranderen, en gedeeld of door
    iemand anders geclaimd worden. Als we je via je e-mailadres zochten, zou een nieuw adres je buitensluiten,
    en zou iemand anders met hetzelfde adres in je account kunnen komen.
why-3-html = Daarom vindt deze site je account alleen via <code>sub</code>. Je e-mailadres bewaren we als
    contactgegevens en we werken het bij elke keer dat je inlogt.
profile-notes = Je notities
profile-notes-hint = Een pagina die alleen jij ziet: het uitgewerkte voorbeeld van een pagina, een formulier en een tabel toevoegen.
activity-heading = Recente beveiligingsactiviteit
activity-hint = Elke keer inloggen, elke e-mailwijziging en elke keer uitloggen op dit account, nieuwste eerst. IP-adressen bewaren we alleen als hash.
log-out-everywhere = Uitloggen op alle apparaten
log-out-everywhere-hint = Beëindigt elke sessie van dit account, in elke browser.
profile-sessions = Je apparaten
profile-sessions-hint = Elke browser die op dit account is ingelogd; beëindig wat je niet herkent.
data-heading = Je gegevens
data-hint = Alles wat deze site over je bewaart: je account, de koppeling met je XWMS-identiteit, je notities en deze activiteitenlog.
data-download = Mijn gegevens downloaden
data-delete = Mijn account verwijderen

## Beveiligingsgebeurtenissen, zoals het profiel ze toont

event-account_created = Account aangemaakt (eerste keer ingelogd)
event-login = Ingelogd
event-email_changed = E-mailadres gewijzigd bij XWMS
event-login_refused = Inloggen geweigerd
event-logout = Uitgelogd
event-sessions_revoked = Uitgelogd op alle apparaten
event-account_deleted = Account verwijderd
event-data_exported = Mijn gegevens gedownload
event-session_ended_elsewhere = Sessie beëindigd vanaf een ander apparaat
event-email-change-detail = van { $from } naar { $to }

## Mijn account verwijderen (templates/delete_account.html, templates/account_deleted.html)

delete-title = Je account verwijderen
delete-heading = Je account verwijderen?
delete-lead = Dit kun je niet ongedaan maken. Download eerst je gegevens als je een kopie wilt.
delete-goes-heading = Wat meteen wordt verwijderd
delete-goes-account = Je account hier: naam, e-mailadres en foto.
delete-goes-account-email = Je account hier: naam, e-mailadres ({ $email }) en foto.
delete-goes-identity = De koppeling met je XWMS-identiteit (sub { $sub }). Je account bij XWMS zelf blijft zoals het is.
delete-goes-notes = Je notities.
delete-goes-sessions = Elke sessie: je wordt hier en op al je andere apparaten uitgelogd.
delete-stays-heading = Wat blijft, zonder iets over jou
delete-stays-log = De beveiligingslog houdt bij wat er gebeurde en wanneer (inloggen, uitloggen), zonder
    account, e-mailadres, IP-hash of browsernaam.
delete-stays-record = Eén vermelding dat er een account is verwijderd, en wanneer. Die verdwijnt na { $days ->
        [one] { $days } dag
       *[other] { $days } dagen
    }.
delete-new-account = Log je later opnieuw in met XWMS, dan krijg je een nieuw account dat niets van dit account weet.
delete-confirm = Mijn account verwijderen
cancel = Annuleren
deleted-title = Account verwijderd
deleted-heading = Je account is verwijderd
deleted-lead = Je account, je notities en de koppeling met je XWMS-identiteit zijn weg, en je bent
    op elk apparaat uitgelogd. Je account bij XWMS zelf is niet veranderd.
deleted-again = Log je opnieuw in met XWMS, dan begin je opnieuw met een nieuw account.
logged-out-title = Uitgelogd
logged-out-heading = Je bent uitgelogd op deze site
logged-out-lead = Deze site heeft je sessie in deze browser beëindigd.
logged-out-everywhere = Elke andere sessie van je account, op elk apparaat, is ook beëindigd.
logged-out-xwms = Misschien ben je nog ingelogd bij XWMS: XWMS houdt een eigen login bij, die deze site niet kan beëindigen. De volgende keer “Inloggen met XWMS” in deze browser kan doorgaan zonder te vragen wie je bent.
logged-out-sandbox = De sandbox houdt geen eigen login bij: de volgende keer vraagt hij opnieuw wie je bent.
logged-out-xwms-account = Ook uitloggen bij XWMS
confirm-title = Bevestig dat jij het bent
confirm-lead = Dit kan niet ongedaan worden gemaakt, dus het vraagt een login met XWMS van de laatste { $minutes } minuten. Er is nog niets gedaan.
confirm-how = Er is hier geen wachtwoord om naar te vragen: XWMS vraagt je opnieuw wie je bent en brengt je daarna hier terug om het te doen.
confirm-button = Bevestigen met XWMS
confirm-cancel = Annuleren

## Notities (templates/notes.html)

notes-title = Je notities
notes-lead-html = Korte notities die alleen jij ziet: het uitgewerkte voorbeeld van <code>docs/extending.md</code>
    (een pagina achter de login, een formulier, een eigen tabel).
notes-add-heading = Notitie toevoegen
notes-label = Notitie
notes-limit = (hoogstens { $max } tekens)
notes-add = Toevoegen
notes-newest-first = Nieuwste eerst
notes-none = Nog geen notities.
notes-welcome = Welkom! Deze notitie is geschreven toen je voor het eerst inlogde. Notities die je hier toevoegt, zijn alleen van jou.
note-empty = Een notitie heeft tekst nodig.
note-too-long = Een notitie mag hoogstens { $max } tekens lang zijn; deze heeft er { $count }.
note-control-characters = Een notitie mag geen stuurtekens bevatten.

## "Doorgaan naar XWMS" (templates/continue_login.html)

continue-title = Doorgaan naar XWMS
continue-lead = Een andere site heeft je hierheen gestuurd om in te loggen. Wilde je op deze site inloggen, ga dan door naar XWMS.
    Zo niet, sluit deze pagina: er is niets gebeurd.

## Foutpagina's (templates/errors/error.html)

error-code = Fout { $status }
error-log-in-again = Opnieuw inloggen
error-reference = Referentie:
error-reference-quote = Noem die als je contact met ons opneemt.
error-not-found-title = Pagina niet gevonden
error-not-found-body = Op dit adres staat niets. Controleer de link, of begin op de startpagina.
error-missing-token-title = Inloggen niet afgerond
error-missing-token-said = XWMS stuurde je terug zonder dat je bent ingelogd. XWMS meldde: “{ $message }”
error-missing-token-body = XWMS stuurde je terug zonder inlogtoken, dus er valt niets te controleren. Begin opnieuw met inloggen.
error-expired-title = Inloggen duurde te lang
error-expired-body = Dit inloggen is niet op tijd afgerond. Voor je veiligheid is het verlopen; met “Opnieuw inloggen” begin je opnieuw.
error-link-title = Deze inloglink is hier niet geldig
error-link-body = Dit inloggen is niet in deze browser gestart, of de link is al gebruikt: een inloglink werkt maar één keer, in de browser die op “Inloggen met XWMS” klikte. Er is niets veranderd; met “Opnieuw inloggen” begin je opnieuw.
error-rejected-title = XWMS heeft dit inloggen niet geaccepteerd
error-rejected-body = XWMS weigerde het inlogtoken: het is misschien verlopen of al gebruikt. Begin opnieuw met inloggen.
error-not-same-person-title = Dat was een ander XWMS-account
error-not-same-person-body = Log om te bevestigen bij XWMS in als de persoon die hier is ingelogd. Er is niets veranderd en je bent nog ingelogd zoals eerst.
error-timeout-title = XWMS antwoordt niet
error-timeout-body = XWMS antwoordde niet op tijd. Er is niets veranderd; probeer het zo nog eens.
error-xwms-title = XWMS had een probleem
error-xwms-body = We konden het inloggen met XWMS niet afronden. Er is niets veranderd; probeer het zo nog eens.
error-refresh-title = Vernieuwen vanuit XWMS lukte niet
error-refresh-body = XWMS gaf de gegevens van dit account niet. Er is niets veranderd; probeer het later opnieuw.
error-refresh-refused-body = XWMS gaf de gegevens van dit account niet ({ $message }). Er is niets veranderd.
error-refresh-timeout-body = XWMS antwoordde niet op tijd. Er is niets veranderd; probeer het zo opnieuw.
error-refresh-elsewhere-body = Dit account is gekoppeld via { $provider }, en deze site praat nu met een andere identiteitsprovider, die daar niet voor kan spreken. Er is niets veranderd.
error-forbidden-title = Verzoek geweigerd
error-forbidden-body = We konden niet vaststellen dat dit verzoek van deze site kwam. Laad de pagina opnieuw en probeer het nog eens.
error-wrong-host-title = Verkeerd adres
error-wrong-host-body = Deze site staat op { $origin }. Open hem daar en probeer het opnieuw.
error-unavailable-title = Tijdelijk niet beschikbaar
error-unavailable-body = De dienst is tijdelijk niet beschikbaar. Er is niets veranderd; probeer het zo nog eens.
error-method-title = Niet toegestaan
error-method-body = Deze pagina kan niet zo worden gebruikt.
error-too-many-title = Te veel verzoeken
error-too-many-body = Wacht even voordat je het opnieuw probeert.
error-bad-request-title = Ongeldig verzoek
error-bad-request-body = Het verzoek was niet te begrijpen. Ga terug en probeer het opnieuw.
error-internal-title = Er ging iets mis
error-internal-body = Er ging aan onze kant iets onverwachts mis. Het is vastgelegd; probeer het later opnieuw.

## De inlogpagina van de sandbox (templates/sandbox_login.html)

sandbox-title = Sandbox-login
sandbox-heading = Inloggen bij de XWMS-sandbox
sandbox-lead = Deze pagina vervangt het inlogscherm van XWMS. Kies wie je wilt zijn; de sandbox
    stuurt je daarna terug naar de app, precies zoals XWMS dat doet.
sandbox-log-in-as = Inloggen als
persona-new-title = Een gloednieuwe gebruiker
persona-new-explains = Elke keer een nieuwe sub: je krijgt een nieuw lokaal account.
persona-ada-title = Ada Lovelace (terugkerende gebruiker)
persona-ada-explains = sub sandbox-ada, ada@example.com, bevestigd. Log twee keer in: hetzelfde account.
persona-ada-new-email-title = Ada Lovelace, met een nieuw e-mailadres
persona-ada-new-email-explains = Dezelfde sub sandbox-ada, nu ada.lovelace@example.org: hetzelfde account, e-mailadres bijgewerkt.
persona-grace-title = Grace Hopper (geen e-mailadres)
persona-grace-explains = XWMS stuurt geen e-mailadres, en de sub als JSON-getal (190612091992).
persona-mallory-title = Mallory (onbevestigd, claimt Ada's e-mailadres)
persona-mallory-explains = sub sandbox-mallory, ada@example.com onbevestigd: een apart account, nooit dat van Ada.
sandbox-custom-title = Iemand die ik beschrijf
sandbox-custom-hint-html = Typ hieronder je eigen sub, naam en e-mailadres (de sandbox stuurt de sub als sandbox-<i>jouw-sub</i>).
sandbox-email-verified = E-mail bevestigd
sandbox-outcome = Wat moet XWMS doen?
sandbox-outcome-success = Log me in
sandbox-outcome-provider-error = Mislukt: XWMS meldt een fout
sandbox-outcome-invalid-token = Mislukt: stuur een token terug dat XWMS weigert
sandbox-outcome-server-error = Mislukt: XWMS crasht als de app het token controleert
sandbox-continue = Doorgaan
sandbox-people-title = Mensen bij de sandbox-XWMS
sandbox-people-lead = Iedereen die via de sandbox inlogde, zoals XWMS ze zou kennen. Wijzig hier een naam of e-mailadres, zoals iemand dat in zijn XWMS-account zou doen, en gebruik daarna “Vernieuwen vanuit XWMS” op je profiel.
sandbox-people-none = Nog niemand heeft via de sandbox ingelogd.
sandbox-people-save = Opslaan bij XWMS
sandbox-people-link = De naam of het e-mailadres van iemand wijzigen bij de sandbox-XWMS
sandbox-need-sub = Typ een sub voor je eigen gebruiker (elke tekst, bijv. mijn-testgebruiker).
sandbox-pick-someone = Kies een van de mensen hieronder.

## Je apparaten (templates/sessions.html)

sessions-title = Je apparaten
sessions-lead = Elke browser die op dit account is ingelogd. Beëindig een sessie die je niet herkent, of een op een apparaat dat je niet meer gebruikt: die wordt bij het volgende verzoek uitgelogd.
sessions-this-device = Dit apparaat
sessions-this-device-hint = Deze beëindig je door uit te loggen.
sessions-started = Ingelogd
sessions-last-used = Laatst gebruikt
sessions-end = Deze sessie beëindigen
sessions-ended = Die sessie is beëindigd: de browser ervan is bij het volgende verzoek uitgelogd.
sessions-already-ended = Die sessie was al beëindigd.
device-browser-on-system = { $browser } op { $system }
device-on-system = Een browser op { $system }
device-unknown = Een onbekende browser
sessions-back = Terug naar je profiel
