"""`smsh plan`: show how a text is encoded and split into SMS parts.

Exit codes: 0 planned; 1 the text cannot be sent as asked (too long for the profile, or a character
the forced encoding cannot carry), with a one-line reason on stderr; 2 a usage error (unknown
profile, with the list of profiles; a reference that does not fit the method).
"""

from __future__ import annotations

import argparse
import json
import sys

from sms.alphabet import Encoding, UnencodableCharacter
from sms.segments import (
    DEFAULT_PROFILE,
    PROFILES,
    InvalidReference,
    MessageTooLong,
    Method,
    Plan,
    UnknownProfile,
    plan,
)

_AUTO = "auto"
#: What the limits count in each encoding, for the table.
_UNIT_NAME = {
    Encoding.GSM7: "septets",
    Encoding.UCS2: "utf16",
    Encoding.LATIN1: "octets",
    Encoding.BINARY: "octets",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `smsh plan`."""
    parser.add_argument(
        "text",
        nargs="?",
        metavar="TEXT",
        help="the message text; read from stdin when omitted (one trailing newline is dropped)",
    )
    parser.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        metavar="NAME",
        help=f"destination limits: {', '.join(PROFILES)} (default: {DEFAULT_PROFILE})",
    )
    parser.add_argument(
        "--method",
        choices=[str(m) for m in Method],
        default=str(Method.UDH8),
        help="how parts are linked (default: udh8)",
    )
    parser.add_argument(
        "--encoding",
        choices=[_AUTO, *(str(e) for e in Encoding)],
        default=_AUTO,
        help="force an encoding (default: auto = GSM-7 if possible, else UCS-2)",
    )
    parser.add_argument(
        "--reference",
        type=int,
        default=0,
        metavar="N",
        help="concatenation reference, 0..255 for udh8, 0..65535 otherwise (default: 0)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of the table"
    )


def _read_text(args: argparse.Namespace) -> str:
    if args.text is not None:
        text: str = args.text
        return text
    data = sys.stdin.read()
    if data.endswith("\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith("\n") else data


def _table(result: Plan) -> str:
    profile = result.profile
    limit = profile.limit(result.encoding)
    unit = _UNIT_NAME[result.encoding]
    lines = [
        f"encoding    {result.encoding} (data_coding 0x{result.data_coding:02X})",
        f"method      {result.method}  esm_class 0x{result.esm_class:02X}  "
        f"reference {result.reference}",
        f"profile     {profile.name}: max {profile.max_parts} parts"
        + ("" if limit is None else f", {limit} {unit}"),
        f"length      {result.chars} chars, {result.code_units} {unit}",
        f"parts       {len(result.parts)}",
        f"billing     {result.units} unit{'s' if result.units != 1 else ''}",
        "",
        f"{'seq':>4} {'chars':>6} {unit:>7} {'octets':>7}  udh / sar",
    ]
    for part in result.parts:
        if part.udh:
            link = " ".join(f"{b:02x}" for b in part.udh)
        elif part.sar is not None:
            link = f"sar ref={part.sar.reference} total={part.sar.total} seq={part.sar.seq}"
        elif part.message_payload is not None:
            link = "message_payload"
        else:
            link = "-"
        lines.append(f"{part.seq:>4} {part.chars:>6} {part.code_units:>7} {part.octets:>7}  {link}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Plan the text and print the result; returns the exit code."""
    if args.profile not in PROFILES:
        print(f"smsh plan: {UnknownProfile(args.profile, tuple(PROFILES))}", file=sys.stderr)
        return 2
    text = _read_text(args)
    encoding = None if args.encoding == _AUTO else Encoding(args.encoding)
    try:
        result = plan(
            text,
            args.profile,
            method=Method(args.method),
            reference=args.reference,
            encoding=encoding,
        )
    except InvalidReference as exc:
        print(f"smsh plan: {exc}", file=sys.stderr)
        return 2
    except (MessageTooLong, UnencodableCharacter) as exc:
        print(f"smsh plan: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(_table(result))
    return 0
