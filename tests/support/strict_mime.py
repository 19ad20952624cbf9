"""Checks emails against RFC 5322 (message format), RFC 2045-2047 (MIME, encoded words),
RFC 2369 and RFC 8058 (List-Unsubscribe), strictly. Used by tests/mime.rs.

Reads a JSON list on stdin, one object per email:
  {"label", "raw" (the MIME as sent), "from_email_address" (SES's parameter),
   "from": [name, address], "reply_to": [name, address] | null, "to": address,
   "subject": the subject as rendered, "list_unsubscribe": bool}
and prints one line per problem ("label: problem"); exits 1 when there is any.

Python's `email` package parses every header by its RFC 5322 grammar (address lists, date-time,
msg-id, unstructured text with encoded words) and records what breaks it as defects; with
`policy.strict` a defect of the message's structure raises. It is forgiving where a reader may
be (it still reads a wrong header and notes the defect), so this script fails on any defect,
and adds what the package does not check: 7-bit header fields, CRLF line ends, line lengths,
the number of each field, encoded-word lengths, the non-obsolete date and msg-id syntax.
"""

import json
import re
import sys
from email import policy
from email.parser import BytesParser

STRICT = policy.strict

# RFC 5322 3.3 without the obsolete forms: day-of-week, 1-2 digit day, month, 4-digit year,
# hh:mm[:ss], numeric zone.
DATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"[0-9]{4} [0-9]{2}:[0-9]{2}(:[0-9]{2})? [+-][0-9]{4}$"
)
ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
DOT_ATOM = rf"{ATEXT}+(\.{ATEXT}+)*"
# RFC 5322 3.6.4 msg-id, non-obsolete: "<" dot-atom-text "@" (dot-atom-text / no-fold-literal) ">".
MSG_ID = re.compile(rf"^<{DOT_ATOM}@({DOT_ATOM}|\[[\x21-\x5a\x5e-\x7e]*\])>$")
# RFC 2047 2: an encoded word is at most 75 characters.
ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=")
# RFC 2369 / RFC 8058: angle-bracketed URIs, and the one-click POST needs an https one.
LIST_UNSUBSCRIBE = re.compile(r"^<https://[^<>\s]+>(\s*,\s*<[^<>\s]+>)*$")
# RFC 5322 3.6: how many times each field may (must) appear in our messages.
COUNTS = {"From": 1, "Date": 1, "To": 1, "Subject": 1, "Message-ID": 1, "MIME-Version": 1}


def header_problems(label, name, header):
    problems = [f"{label}: {name}: {type(d).__name__}: {d}" for d in header.defects]
    return problems


def mailbox_problems(label, name, header, expected):
    problems = header_problems(label, name, header)
    addresses = list(getattr(header, "addresses", ()))
    if len(addresses) != 1:
        return problems + [f"{label}: {name} holds {len(addresses)} addresses: {str(header)!r}"]
    found = (addresses[0].display_name, addresses[0].addr_spec)
    if list(found) != list(expected):
        problems.append(f"{label}: {name} reads as {found!r}, expected {tuple(expected)!r}")
    return problems


def check(email):
    label = email["label"]
    raw = email["raw"].encode("utf-8")
    problems = []

    if re.search(rb"(?<!\r)\n|\r(?!\n)", raw):
        problems.append(f"{label}: a line ends without CRLF (RFC 5322 2.3)")
    head, sep, _body = raw.partition(b"\r\n\r\n")
    if not sep:
        return problems + [f"{label}: no blank line between the header and the body"]
    if any(byte > 0x7F for byte in head):
        problems.append(f"{label}: the header has 8-bit bytes (RFC 5322 2.2: US-ASCII only)")
    for number, line in enumerate(raw.split(b"\r\n"), 1):
        if len(line) > 998:
            problems.append(f"{label}: line {number} is {len(line)} characters (RFC 5322 2.1.1: 998 at most)")
    unfolded = re.sub(rb"\r\n[ \t]", b" ", head).decode("ascii", "replace")
    for word in ENCODED_WORD.findall(unfolded):
        if len(word) > 75:
            problems.append(f"{label}: encoded word of {len(word)} characters (RFC 2047 2: 75 at most)")

    try:
        message = BytesParser(policy=STRICT).parsebytes(raw)
    except Exception as error:  # policy.strict raises on any structural defect
        return problems + [f"{label}: the strict parser refuses the message: {type(error).__name__}: {error}"]
    problems += [f"{label}: {type(d).__name__}: {d}" for d in message.defects]

    for name, count in COUNTS.items():
        found = len(message.get_all(name, []))
        if found != count:
            problems.append(f"{label}: {found} {name} fields, expected {count}")
    for part in message.walk():
        for name in part.keys():
            for header in part.get_all(name, []):
                problems += header_problems(label, name, header)
    if problems:
        return problems

    problems += mailbox_problems(label, "From", message["From"], email["from"])
    if email["reply_to"] is None:
        if "Reply-To" in message:
            problems.append(f"{label}: a Reply-To nobody asked for")
    elif len(message.get_all("Reply-To", [])) != 1:
        problems.append(f"{label}: {len(message.get_all('Reply-To', []))} Reply-To fields, expected 1")
    else:
        problems += mailbox_problems(label, "Reply-To", message["Reply-To"], email["reply_to"])
    problems += mailbox_problems(label, "To", message["To"], ["", email["to"]])

    source = STRICT.header_factory("From", email["from_email_address"])
    if not email["from_email_address"].isascii():
        problems.append(f"{label}: FromEmailAddress is not ASCII: {email['from_email_address']!r}")
    problems += mailbox_problems(label, "FromEmailAddress", source, email["from"])

    if str(message["Subject"]) != email["subject"]:
        problems.append(f"{label}: Subject reads {str(message['Subject'])!r}, expected {email['subject']!r}")
    date = str(message["Date"])
    if not DATE.match(date) or message["Date"].datetime is None or message["Date"].datetime.tzinfo is None:
        problems.append(f"{label}: Date {date!r} is not an RFC 5322 date-time")
    if not MSG_ID.match(str(message["Message-ID"]).strip()):
        problems.append(f"{label}: Message-ID {str(message['Message-ID'])!r} is not <id-left@id-right>")
    if str(message["MIME-Version"]).strip() != "1.0":
        problems.append(f"{label}: MIME-Version {str(message['MIME-Version'])!r}")

    unsubscribe = message.get_all("List-Unsubscribe", [])
    one_click = message.get_all("List-Unsubscribe-Post", [])
    if email["list_unsubscribe"]:
        if len(unsubscribe) != 1 or not LIST_UNSUBSCRIBE.match(str(unsubscribe[0])):
            problems.append(f"{label}: List-Unsubscribe {[str(u) for u in unsubscribe]!r} is not one <https://...>")
        if [str(p) for p in one_click] != ["List-Unsubscribe=One-Click"]:
            problems.append(f"{label}: List-Unsubscribe-Post {[str(p) for p in one_click]!r}")
    elif unsubscribe or one_click:
        problems.append(f"{label}: List-Unsubscribe on a transactional message")

    # MIME: a text part and an HTML part, in that order (RFC 2046 5.1.4: the richest last).
    if message.get_content_type() != "multipart/alternative" or not message.get_boundary():
        problems.append(f"{label}: Content-Type {message.get_content_type()!r}, expected multipart/alternative")
        return problems
    parts = list(message.iter_parts())
    types = [part.get_content_type() for part in parts]
    if types != ["text/plain", "text/html"]:
        problems.append(f"{label}: parts {types!r}, expected text/plain then text/html")
    for part in parts:
        kind = part.get_content_type()
        if part.get_content_charset() != "utf-8":
            problems.append(f"{label}: {kind} charset {part.get_content_charset()!r}, expected utf-8")
        encoding = part.get("Content-Transfer-Encoding", "7bit").lower()
        if encoding not in ("7bit", "quoted-printable", "base64"):
            problems.append(f"{label}: {kind} Content-Transfer-Encoding {encoding!r} is not 7-bit safe")
        payload = part.get_payload(decode=False)
        if encoding == "quoted-printable" and any(len(line) > 76 for line in payload.splitlines()):
            problems.append(f"{label}: {kind} has quoted-printable lines over 76 characters (RFC 2045 6.7)")
        problems += [f"{label}: {kind}: {type(d).__name__}: {d}" for d in part.defects]
        try:
            content = part.get_payload(decode=True).decode("utf-8", "strict")
        except Exception as error:
            problems.append(f"{label}: {kind} does not decode as UTF-8: {error}")
            continue
        if not content.strip():
            problems.append(f"{label}: {kind} is empty")
    return problems


def main():
    emails = json.load(sys.stdin)
    problems = [problem for email in emails for problem in check(email)]
    for problem in problems:
        print(problem)
    print(f"checked {len(emails)} emails, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
