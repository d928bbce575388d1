"""`smsh handset NUMBER`: what a subscriber's handset shows, from the simulator's lookup API.

Asks ``GET /v1/handsets/{number}`` of a running simulator's lookup API (`simulator.lookup`;
``smsh simulator --config sim.yaml --http-port PORT`` with a ``network:`` section serves it and
prints its URL) and prints the handset's threads, keyed by the displayed sender exactly as the
handset groups them, oldest thread first; under each, its messages oldest first with the time
they became visible (in the recipient's zone), how many parts they were announced in, the text,
and the model's flags (spoofed, relabelled, misdelivered, quiet hours, incomplete with the
missing parts, replaced, genuine). ``--json`` prints the API's answer unchanged instead (the
fields are documented in `simulator.lookup`).

The lookup API's address is ``--url``, else ``$SMSH_LOOKUP_URL``, else
``http://127.0.0.1:8081`` (the address the gateway's ``owner_check.url`` example uses).

Exit codes: 0 shown; 1 unknown number (the simulated network has no subscriber with that
number and nothing was delivered to it); 2 a bad number (the reason from `sms.numbers`, checked
here before any request and again by the API) or a bad ``--url``; 3 the lookup API cannot be
reached or answers something other than a handset view. Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any, Final, TextIO

from sms.numbers import InvalidNumber, try_parse

DEFAULT_URL: Final[str] = "http://127.0.0.1:8081"
URL_ENV: Final[str] = "SMSH_LOOKUP_URL"
#: Flag name in the API -> how the view shows it, in display order.
FLAG_LABELS: Final[dict[str, str]] = {
    "spoofed": "SPOOFED",
    "relabelled": "RELABELLED",
    "misdelivered": "MISDELIVERED",
    "quiet_hours": "QUIET HOURS",
    "incomplete": "INCOMPLETE",
    "replaced": "REPLACED",
    "genuine": "genuine",
}


class HandsetError(Exception):
    """The handset cannot be shown; `exit_code` is the command's exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `smsh handset`."""
    parser.add_argument(
        "number", metavar="NUMBER", help="the subscriber, national (090...) or E.164 (+8190...)"
    )
    parser.add_argument(
        "--url",
        default=None,
        metavar="URL",
        help=f"the simulator's lookup API (default: ${URL_ENV}, else {DEFAULT_URL})",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the API's JSON answer instead of the view"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up on the lookup API after this long (default: 10)",
    )


def base_url(url: str | None) -> str:
    """The lookup API's base URL (``--url``, ``$SMSH_LOOKUP_URL`` or the default), checked.

    Raises:
        HandsetError: Not an http(s) URL with a host (exit code 2).
    """
    chosen = url or os.environ.get(URL_ENV) or DEFAULT_URL
    parts = urllib.parse.urlsplit(chosen)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HandsetError(f"--url must be http://HOST:PORT, got {chosen!r}", 2)
    return chosen.rstrip("/")


def check_number(raw: str) -> str:
    """Validate `raw` as the lookup API will (060 and M2M numbers allowed).

    Returns:
        The E.164 form.

    Raises:
        HandsetError: Not a number (exit code 2); the message has the `sms.numbers` reason.
    """
    number = try_parse(raw, allow_060=True, allow_m2m=True)
    if isinstance(number, InvalidNumber):
        raise HandsetError(f"bad number {raw!r}: {number.reason.value}: {number.detail}", 2)
    return number.e164


def fetch(url: str, number: str, timeout: float) -> dict[str, Any]:
    """``GET {url}/v1/handsets/{number}``.

    Args:
        url: Base URL of the lookup API.
        number: The number as typed (the API normalises and echoes it).
        timeout: Seconds before giving up.

    Returns:
        The handset view (``number``, ``e164``, ``known``, ``threads``).

    Raises:
        HandsetError: The API cannot be reached or refuses the number (exit 3, or 2 for a
            number it finds invalid).
    """
    target = f"{url}/v1/handsets/{urllib.parse.quote(number, safe='')}"
    request = urllib.request.Request(target, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise _refusal(exc, url) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HandsetError(
            f"cannot reach the lookup API at {url}: {reason} (is `smsh simulator --http-port`"
            " running with a network section?)",
            3,
        ) from None
    try:
        data = json.loads(body)
    except ValueError:
        raise HandsetError(f"{target} did not answer JSON: {body[:80]!r}", 3) from None
    if not isinstance(data, dict) or not isinstance(data.get("threads"), dict):
        raise HandsetError(f"{target} did not answer a handset view: {str(data)[:80]}", 3)
    return data


def _refusal(exc: urllib.error.HTTPError, url: str) -> HandsetError:
    try:
        body = json.loads(exc.read())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return HandsetError(f"the lookup API at {url} answered HTTP {exc.code} {exc.reason}", 3)
    code, detail = body.get("error"), body.get("detail", "")
    if code == "invalid_number":
        return HandsetError(f"bad number: {body.get('reason', 'invalid')}: {detail}", 2)
    if code == "not_found":
        return HandsetError(f"{url} has no handset API (HTTP 404): is it the lookup API?", 3)
    return HandsetError(f"the lookup API answered HTTP {exc.code} {code}: {detail}", 3)


def _time(message: dict[str, Any]) -> str:
    raw = message.get("time")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw).isoformat(sep=" ", timespec="seconds")
        except ValueError:
            return raw
    return "?"


def _tags(message: dict[str, Any]) -> list[str]:
    flags = message.get("flags") or {}
    tags = [label for name, label in FLAG_LABELS.items() if flags.get(name)]
    missing = message.get("missing") or []
    if missing:
        tags = [
            f"INCOMPLETE (missing part {', '.join(str(m) for m in missing)})"
            if t == "INCOMPLETE"
            else t
            for t in tags
        ]
    return tags


def render(view: dict[str, Any]) -> list[str]:
    """The handset as terminal lines: a header, then each thread and its messages.

    Args:
        view: The API's answer (see `fetch`).

    Returns:
        The lines, without newlines.
    """
    threads: dict[str, Any] = view["threads"]
    count = sum(len(t.get("messages", [])) for t in threads.values())
    national = view.get("number")
    e164 = view.get("e164")
    who = f"{e164} ({national})" if national and national != e164 else str(e164 or national)
    known = "" if view.get("known", True) else ", not a subscriber of the network"
    plural = "s" if count != 1 else ""
    lines = [f"Handset {who}: {len(threads)} thread(s), {count} message{plural}{known}"]
    if not threads:
        lines.append("  (no messages)")
    for sender, thread in threads.items():
        messages = thread.get("messages", [])
        marks = []
        if thread.get("has_spoof"):
            marks.append("holds spoofed messages")
        if thread.get("has_spoof") and thread.get("has_genuine"):
            marks.append("mixed with genuine ones")
        note = f"  ! {', '.join(marks)}" if marks else ""
        lines.append("")
        lines.append(
            f"== {sender} ({len(messages)} message{'s' if len(messages) != 1 else ''}){note}"
        )
        for message in messages:
            parts = int(message.get("parts", 1))
            head = [_time(message)]
            if parts > 1:
                head.append(f"{parts} parts")
            account = message.get("account")
            if account:
                head.append(f"from account {account}")
            tags = _tags(message)
            if tags:
                head.append(" ".join(f"[{t}]" for t in tags))
            lines.append("  " + "  ".join(head))
            text = str(message.get("text", ""))
            lines.extend(f"    {line}" for line in (text.splitlines() or [""]))
    return lines


def show(args: argparse.Namespace, out: TextIO) -> int:
    """Fetch and print the handset of ``args.number``; returns the exit code.

    Raises:
        HandsetError: See the module docstring for the exit codes.
    """
    url = base_url(args.url)
    e164 = check_number(args.number)
    view = fetch(url, args.number, args.timeout)
    if args.json:
        out.write(json.dumps(view, ensure_ascii=False, indent=2) + "\n")
    elif view.get("known", True) or view["threads"]:
        out.write("\n".join(render(view)) + "\n")
    if not view.get("known", True) and not view["threads"]:
        raise HandsetError(
            f"unknown number {e164}: the simulated network has no subscriber with this number",
            1,
        )
    return 0


def run(args: argparse.Namespace) -> int:
    """Run `smsh handset`; returns the exit code."""
    try:
        return show(args, sys.stdout)
    except HandsetError as exc:
        print(f"smsh handset: {exc}", file=sys.stderr)
        return exc.exit_code
