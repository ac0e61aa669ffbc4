#!/usr/bin/env python3
"""A sandbox login in headless Chromium, as a visitor would click it.

    scripts/browser-login.py --base-url http://localhost:3000 [--label NAME]
        [--persona "Ada Lovelace (returning user)"] [--expect-heading "Your profile"]
        [--expect-sub sandbox-ada] [--result-file FILE]

Opens BASE_URL/, clicks "Login with XWMS", picks the persona by its label on the
sandbox login page, presses "Continue", then checks that the page's <h1> is the
expected heading and that the profile shows the expected sub. Used by
scripts/docker-smoke against the app that docker-compose.yml publishes.

Only the standard library: it starts its own chromedriver on a free port and talks
to it over the W3C WebDriver HTTP API. Chromium gets a fresh profile in a temporary
directory. At the end (also on failure, Ctrl-C or SIGTERM) the session is deleted,
chromedriver and the Chromium it started are killed, and the profile is removed.

Prints one PASS/FAIL line per check (the format of scripts/docker-smoke) and exits
non-zero if any check fails. --result-file gets what the profile shows, as JSON
(user_id, sub, account_created, first_seen, url), so a caller can compare two logins.
CHROME_BIN and CHROMEDRIVER override the binaries (default: chromium, chromedriver).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"
PAGE_TIMEOUT = 15.0  # seconds a page may take to appear after a click
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]


class CheckFailed(Exception):
    """A check the rest of the walk depends on failed: stop here."""


class WebDriverError(Exception):
    def __init__(self, error, message):
        super().__init__(f"{error}: {message}")
        self.error = error


class Report:
    def __init__(self, label):
        self.label = label
        self.failures = 0

    def passed(self, text):
        print(f"PASS  {self.label}: {text}", flush=True)

    def failed(self, text):
        self.failures += 1
        print(f"FAIL  {self.label}: {text}", flush=True)

    def check(self, ok, text_ok, text_failed):
        self.passed(text_ok) if ok else self.failed(text_failed)
        return ok


def find_program(env_var, names):
    if os.environ.get(env_var):
        return os.environ[env_var]
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise CheckFailed(f"{names[0]} not found (apt-get install chromium chromium-driver, or set {env_var})")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def xpath_literal(text):
    """An XPath string literal for any text (XPath 1.0 has no escapes)."""
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    parts = text.split('"')
    return "concat(" + ", '\"', ".join(f'"{part}"' for part in parts) + ")"


class Driver:
    """chromedriver (in a process group of its own, with the Chromium it starts) and one session."""

    def __init__(self, work_dir):
        self.work_dir = work_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.session = None
        self.log_path = os.path.join(work_dir, "chromedriver.log")
        self.process = subprocess.Popen(
            [find_program("CHROMEDRIVER", ["chromedriver"]), f"--port={self.port}", f"--log-path={self.log_path}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as err:
            payload = err.read()
            try:
                value = json.loads(payload).get("value", {})
                raise WebDriverError(value.get("error", f"HTTP {err.code}"), value.get("message", "")[:300]) from None
            except ValueError:
                raise WebDriverError(f"HTTP {err.code}", payload[:300].decode(errors="replace")) from None
        return json.loads(payload).get("value") if payload else None

    def start_session(self, chromium, profile_dir):
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None:
                raise CheckFailed(f"chromedriver exited with code {self.process.returncode}; {self.log_tail()}")
            try:
                if (self.call("GET", "/status", timeout=5) or {}).get("ready"):
                    break
            except (OSError, WebDriverError):
                pass
            if time.monotonic() > deadline:
                raise CheckFailed("chromedriver did not become ready within 20s")
            time.sleep(0.1)
        capabilities = {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": CHROMIUM_ARGS + [f"--user-data-dir={profile_dir}"]},
            "timeouts": {"pageLoad": int(PAGE_TIMEOUT * 1000), "script": 10000, "implicit": 0},
        }
        try:
            value = self.call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        except WebDriverError as err:
            raise CheckFailed(f"could not start Chromium through chromedriver: {err}; {self.log_tail()}") from None
        self.session = value["sessionId"]

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def open(self, url):
        self.s("POST", "/url", {"url": url})

    def current_url(self):
        return self.s("GET", "/url")

    def find_all(self, using, value):
        return [element[ELEMENT_KEY] for element in self.s("POST", "/elements", {"using": using, "value": value})]

    def find(self, using, value, what):
        found = self.find_all(using, value)
        if not found:
            raise CheckFailed(f"no {what} on {self.current_url()} (heading: {self.heading()!r}); page text: {self.page_text()}")
        return found[0]

    def text(self, element):
        return (self.s("GET", f"/element/{element}/text") or "").strip()

    def click(self, element):
        self.s("POST", f"/element/{element}/click", {})

    def selected(self, element):
        return bool(self.s("GET", f"/element/{element}/selected"))

    def attribute(self, element, name):
        return self.s("GET", f"/element/{element}/attribute/{name}")

    def heading(self):
        try:
            found = self.find_all("css selector", "h1")
            return self.text(found[0]) if found else ""
        except WebDriverError:  # the page changed under us
            return ""

    def page_text(self, limit=400):
        try:
            body = self.find_all("css selector", "body")
            text = self.text(body[0]) if body else ""
        except WebDriverError:
            text = ""
        return " ".join(text.split())[:limit]

    def wait_for_heading(self, wanted):
        """Waits until the page's <h1> reads `wanted`; returns the last heading seen."""
        deadline = time.monotonic() + PAGE_TIMEOUT
        while True:
            heading = self.heading()
            if heading == wanted or time.monotonic() > deadline:
                return heading
            time.sleep(0.1)

    def log_tail(self, lines=8):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                entries = [line.rstrip() for line in log if line.startswith("[")]
            return "chromedriver log: " + " | ".join(entries[-lines:])
        except OSError:
            return "no chromedriver log"

    def quit(self):
        if self.session:
            try:
                self.s("DELETE", "")
            except (OSError, WebDriverError):
                pass
            self.session = None
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait()
        # Chromium (same process group) may outlive chromedriver for a moment.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def walk(driver, args, report):
    """The visitor's clicks and the checks on each page; returns what the profile shows."""
    base = args.base_url.rstrip("/")

    driver.open(base + "/")
    link = driver.find("xpath", "//a[normalize-space()='Login with XWMS']", 'link "Login with XWMS"')
    report.passed(f'{base}/ shows the "Login with XWMS" link')
    driver.click(link)

    heading = driver.wait_for_heading("XWMS sandbox login")
    if heading != "XWMS sandbox login":
        raise CheckFailed(f'after the click, {driver.current_url()} is headed {heading!r}, not the sandbox login page')
    path = driver.current_url().split("?")[0].replace(base, "", 1)
    report.passed(f"the link led to the sandbox login page ({path})")

    choice = "//form//label[.//input[@type='radio' and @name='persona']]"
    radios = driver.find_all(
        "xpath",
        f"{choice}[.//strong[normalize-space()={xpath_literal(args.persona)}]]//input[@type='radio' and @name='persona']",
    )
    if not radios:
        labels = [driver.text(label) for label in driver.find_all("xpath", f"{choice}//strong")]
        raise CheckFailed(f"no persona labelled {args.persona!r} on the sandbox login page; it offers {labels}")
    radio = radios[0]
    driver.click(radio)
    if not driver.selected(radio):
        raise CheckFailed(f"clicked the persona {args.persona!r}, but its radio button is not selected")
    persona_id = driver.attribute(radio, "value")
    button = driver.find("xpath", "//form//button[normalize-space()='Continue']", 'button "Continue"')
    driver.click(button)
    report.passed(f'picked {args.persona!r} (persona={persona_id}) and pressed "Continue"')

    heading = driver.wait_for_heading(args.expect_heading)
    url = driver.current_url()
    if heading != args.expect_heading:
        raise CheckFailed(f"expected the heading {args.expect_heading!r}, but {url} shows {heading!r}: {driver.page_text()}")
    report.passed(f"the page's h1 is {heading!r} ({url.replace(base, '', 1)})")

    def testid(name):
        found = driver.find_all("css selector", f'[data-testid="{name}"]')
        return driver.text(found[0]) if found else None

    shown = {
        "url": url,
        "sub": testid("sub"),
        "user_id": testid("user-id"),
        "account_created": bool(driver.find_all("css selector", ".notice-success")),
        "first_seen": None,
    }
    first_seen = driver.find_all("xpath", "//dt[normalize-space()='First seen']/following-sibling::dd[1]/time")
    if first_seen:
        shown["first_seen"] = driver.attribute(first_seen[0], "datetime")
    report.check(
        shown["sub"] == args.expect_sub,
        f"the profile shows sub {shown['sub']} (local user id {shown['user_id']}, "
        f"new account: {'yes' if shown['account_created'] else 'no'})",
        f"the profile shows sub {shown['sub']!r}, expected {args.expect_sub!r}",
    )
    return shown


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="the app, e.g. http://localhost:3000")
    parser.add_argument("--label", default="browser", help="prefix of every PASS/FAIL line")
    parser.add_argument("--persona", default="Ada Lovelace (returning user)", help="the persona's label")
    parser.add_argument("--expect-heading", default="Your profile")
    parser.add_argument("--expect-sub", default="sandbox-ada")
    parser.add_argument("--result-file", help="write what the profile shows here, as JSON")
    args = parser.parse_args()

    # SIGTERM (e.g. the smoke script's EXIT trap) cleans up like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    report = Report(args.label)
    work_dir = tempfile.mkdtemp(prefix="xwms-browser-login-")
    driver = None
    try:
        chromium = find_program("CHROME_BIN", ["chromium", "chromium-browser", "google-chrome"])
        profile_dir = os.path.join(work_dir, "profile")
        os.mkdir(profile_dir)
        driver = Driver(work_dir)
        driver.start_session(chromium, profile_dir)
        shown = walk(driver, args, report)
        if args.result_file:
            with open(args.result_file, "w", encoding="utf-8") as out:
                json.dump(shown, out)
    except CheckFailed as err:
        report.failed(str(err))
    except (WebDriverError, OSError) as err:
        report.failed(f"WebDriver: {err}")
    finally:
        if driver:
            driver.quit()
        shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
